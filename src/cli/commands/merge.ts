import { parseArgs } from 'node:util';
import { InvalidInputError } from '../../errors.js';
import { mergeLoraIntoCheckpoint } from '../../peft/lora/merge-checkpoint.js';
import { requireModelDir } from '../model-options.js';
import { note } from '../progress.js';

export const MERGE_HELP = `tuneloop merge: fold a LoRA adapter into its base model (peft's merge_and_unload)

Usage:
  tuneloop merge --model DIR --adapter DIR --out DIR

  --model DIR     the base Hugging Face BLOOM checkpoint
  --adapter DIR   a PEFT LoRA adapter (adapter_config.json, adapter_model.safetensors)
  --out DIR       where to write the merged checkpoint: config.json, model.safetensors and the
                  tokenizer files, usable by tuneloop and transformers without peft

Each targeted weight becomes W + scaling·B·A, computed in float32 and stored in the weight's own
dtype. The output appears only when complete.`;

export async function runMerge(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { model: { type: 'string' }, adapter: { type: 'string' }, out: { type: 'string' } }, strict: true });
  const modelDir = requireModelDir(values.model);
  if (!values.adapter) throw new InvalidInputError('--adapter', 'is required: the LoRA adapter directory to merge');
  if (!values.out) throw new InvalidInputError('--out', 'is required: where to write the merged checkpoint');
  const started = performance.now();
  const { mergedTensors } = mergeLoraIntoCheckpoint(modelDir, values.adapter, values.out);
  note(`merged ${mergedTensors} weight(s) in ${((performance.now() - started) / 1000).toFixed(2)}s`);
  process.stdout.write(`${values.out}\n`);
}

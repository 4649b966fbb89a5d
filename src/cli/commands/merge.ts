import { existsSync, readdirSync, statSync } from 'node:fs';
import { InvalidInputError } from '../../errors.js';
import { MERGE_SUPPORT, mergeAdapterIntoCheckpoint } from '../../peft/merge-adapter.js';
import { requireModelDir } from '../model-options.js';
import { requireAdapterDir } from '../model-option-checks.js';
import { parseOptions } from '../parse-options.js';
import { note } from '../progress.js';

export const MERGE_HELP = `tuneloop merge: fold an adapter into its base model and write a checkpoint that needs no adapter

Usage:
  tuneloop merge --model DIR --adapter DIR --out DIR [--overwrite] [--json]

  --model DIR     the base Hugging Face BLOOM checkpoint
  --adapter DIR   the adapter: a PEFT adapter (adapter_config.json, adapter_model.safetensors) or
                  tuneloop's bias/selective tuning files (selective_tuning.json, tuned_tensors.safetensors)
  --out DIR       where to write the merged checkpoint: config.json, model.safetensors and the
                  tokenizer files, usable by tuneloop and transformers without peft. It must not
                  exist, or be empty
  --overwrite     replace --out when it already holds files
  --json          print one JSON object instead of the --out folder: out, base_model, adapter,
                  method (lora, ln_tuning or selective), merged_tensors, seconds

By adapter type:
  LoRA, QLoRA     each targeted weight becomes W + scaling·B·A (peft's merge_and_unload), computed in
                  float32 and stored in the weight's own dtype
  LN tuning, bias, selective tuning
                  the tuned tensors replace the base model's
  prompt tuning   nothing to merge: its virtual tokens are inputs, not weights; run the base model
                  with --adapter instead

The output is written beside --out and renamed into place only when complete.`;

export async function runMerge(argv: string[]): Promise<void> {
  const { values } = parseOptions('merge', {
    args: argv,
    options: { model: { type: 'string' }, adapter: { type: 'string' }, out: { type: 'string' }, overwrite: { type: 'boolean', default: false }, json: { type: 'boolean', default: false } },
    strict: true,
  });
  const modelDir = requireModelDir(values.model);
  if (!values.adapter) throw new InvalidInputError('--adapter', `is required: the adapter directory to merge (${MERGE_SUPPORT})`);
  requireAdapterDir(values.adapter);
  if (!values.out) throw new InvalidInputError('--out', 'is required: where to write the merged checkpoint');
  checkOutDir(values.out, values.overwrite);
  const started = performance.now();
  const { method, mergedTensors } = mergeAdapterIntoCheckpoint(modelDir, values.adapter, values.out);
  const seconds = (performance.now() - started) / 1000;
  note(`merged ${mergedTensors} weight(s) (${method}) in ${seconds.toFixed(2)}s`);
  const result = { out: values.out, base_model: modelDir, adapter: values.adapter, method, merged_tensors: mergedTensors, seconds };
  process.stdout.write(values.json ? `${JSON.stringify(result)}\n` : `${values.out}\n`);
}

/** --out may be new or an empty folder; a folder with files is replaced only with --overwrite, and a file never. */
function checkOutDir(out: string, overwrite: boolean): void {
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory()) throw new InvalidInputError('--out', `${out} is a file; give a folder for the merged checkpoint`);
  if (!overwrite && readdirSync(out).length > 0) throw new InvalidInputError('--out', `${out} already holds files; pass --overwrite to replace it, or choose a new folder`);
}

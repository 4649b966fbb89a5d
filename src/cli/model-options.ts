import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { NativeBackend } from '../engine/backends/native.js';
import { parseThreadCount, selectBackend } from '../engine/select-backend.js';
import { InvalidInputError } from '../errors.js';
import { BloomModel } from '../models/bloom/model.js';
import type { CausalLM } from '../models/causal-lm.js';
import { applyAdapter } from '../peft/apply-adapter.js';
import { parseBackendChoice } from './model-option-checks.js';
import type { ComputeDType, WeightQuantizationOptions } from '../models/bloom/weights.js';
import { type BloomTokenizer, loadTokenizer } from '../tokenizer/tokenizer.js';
import { ProgressBar, note } from './progress.js';

/** Options every model-running command shares, in parseArgs form. */
export const MODEL_OPTIONS = {
  model: { type: 'string' },
  adapter: { type: 'string' },
  dtype: { type: 'string', default: 'fp32' },
  backend: { type: 'string', default: 'auto' },
  threads: { type: 'string' },
} as const;

export const MODEL_OPTIONS_HELP = `  --model DIR            Hugging Face BLOOM directory: config.json, model.safetensors (or shards
                         with model.safetensors.index.json), tokenizer.json for text input
  --adapter DIR          an adapter to apply: a Hugging Face PEFT adapter (adapter_config.json and
                         adapter_model.safetensors) of LoRA (QLoRA's too; use_rslora, DoRA's use_dora
                         and modules_to_save for lm_head, word_embeddings and LayerNorms), prompt
                         tuning or LN tuning; or tuneloop's bias or selective tuning files
                         (selective_tuning.json and tuned_tensors.safetensors)
  --dtype fp32|bf16      compute precision (default fp32); bf16 halves weight memory and is fastest
                         on CPUs with AMX or AVX-512 bf16
  --backend auto|native|typescript
                         compute backend (default auto: TUNELOOP_BACKEND when it is set, else
                         native when its addon loads)
  --threads N            threads for the native backend (default TUNELOOP_THREADS, else
                         OMP_NUM_THREADS, else one per core)`;

export function parseDType(value: string): ComputeDType {
  if (value === 'fp32' || value === 'f32' || value === 'float32') return 'f32';
  if (value === 'bf16' || value === 'bfloat16') return 'bf16';
  throw new InvalidInputError('--dtype', `must be fp32 or bf16, got "${value}"`);
}

/** The model directory named by `field` (the --model flag, or a config file's field), checked to be one. */
export function requireModelDir(value: string | undefined, field = '--model'): string {
  if (!value) throw new InvalidInputError(field, 'is required: the directory of a Hugging Face BLOOM checkpoint');
  if (!existsSync(value)) throw new InvalidInputError(field, `${value} does not exist`);
  if (!statSync(value).isDirectory()) throw new InvalidInputError(field, `${value} is a file; give the model's directory`);
  if (!existsSync(join(value, 'config.json'))) throw new InvalidInputError(field, `${value} exists but has no config.json, so it is not a Hugging Face model directory`);
  return value;
}

/** The model-loading options as parseArgs gives them; `threads` is the --threads text. */
export interface ModelCliValues {
  model?: string;
  dtype: string;
  backend: string;
  threads?: string;
}

/** The model, with the --adapter applied when one is given. */
export async function loadModelForCli(values: ModelCliValues & { adapter?: string }): Promise<CausalLM> {
  const model = await loadBaseModelForCli(values);
  if (!values.adapter) return model;
  const adapted = applyAdapter(model, values.adapter);
  note(`adapter: ${values.adapter}`);
  return adapted;
}

export async function loadBaseModelForCli(values: ModelCliValues, quantization: WeightQuantizationOptions = {}): Promise<BloomModel> {
  const dir = requireModelDir(values.model);
  const dtype = parseDType(values.dtype);
  const choice = parseBackendChoice(values.backend);
  const threads = parseThreadCount(values.threads, '--threads');
  // auto defers to TUNELOOP_BACKEND: every command and config defaults to auto, so the variable is
  // what a user sets to choose the backend everywhere, and an explicit native or typescript still wins.
  const backend = await selectBackend(choice === 'auto' ? undefined : choice, { threads });
  const nativeThreads = backend.name === 'native' ? (backend as NativeBackend).threads() : undefined;
  const threadNote = nativeThreads === undefined ? '' : `, ${nativeThreads} thread${nativeThreads === 1 ? '' : 's'}`;
  let bar: ProgressBar | undefined;
  const model = BloomModel.load(dir, {
    backend,
    dtype,
    ...quantization,
    onTensorLoaded: (_, loaded, total) => {
      bar ??= new ProgressBar(`loading ${dir} (${quantization.quantization ? `${quantization.quantization} weights, ` : ''}${dtype}, ${backend.name} backend${threadNote})`, total);
      bar.update(loaded);
    },
  });
  bar?.finish();
  return model;
}

/** The model directory's tokenizer, or an error naming the missing file when text input needs one. */
export async function loadTokenizerForCli(dir: string, why: string): Promise<BloomTokenizer> {
  if (!existsSync(join(dir, 'tokenizer.json'))) {
    throw new InvalidInputError('--model', `${join(dir, 'tokenizer.json')} is missing; ${why}`);
  }
  const started = performance.now();
  const tokenizer = await loadTokenizer(dir);
  note(`tokenizer: ${tokenizer.vocabSize} tokens in ${((performance.now() - started) / 1000).toFixed(2)}s`);
  return tokenizer;
}

/** Parses "17,200,33" into token ids. */
export function parseIdList(value: string, field: string): number[] {
  const parts = value.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.some((p) => !/^\d+$/.test(p))) {
    throw new InvalidInputError(field, `must be comma-separated non-negative integers like 17,200,33, got "${value}"`);
  }
  return parts.map(Number);
}

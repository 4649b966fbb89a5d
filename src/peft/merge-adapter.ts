import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor } from '../engine/tensor.js';
import { AdapterError } from '../errors.js';
import { SafetensorsFile } from '../formats/safetensors.js';
import { CheckpointTensors } from '../models/bloom/checkpoint.js';
import { ADAPTER_CONFIG_FILE, readAdapterFiles } from './adapter-files.js';
import { mergeLoraIntoCheckpoint } from './lora/merge-checkpoint.js';
import { writeMergedCheckpoint } from './merged-checkpoint.js';
import { LN_TUNING_NAME, SELECTIVE_CONFIG_FILE, SELECTIVE_WEIGHTS_FILE, isSelectiveTuningDir } from './selective/model.js';

/** What `tuneloop merge` does with each kind of adapter; error messages quote it so the user sees every case. */
export const MERGE_SUPPORT =
  'LoRA (peft LORA, also trained as qlora): W + scaling·B·A is folded into each targeted weight; ' +
  'LN tuning (peft LN_TUNING), bias and selective tuning (selective_tuning.json): the tuned tensors replace the base\'s; ' +
  'prompt tuning (peft PROMPT_TUNING): nothing to merge, its virtual tokens are inputs, not weights: run the base with --adapter instead';

export interface MergeResult {
  /** lora, ln_tuning or selective. */
  readonly method: string;
  readonly mergedTensors: number;
}

/**
 * Writes the base checkpoint in `modelDir` with the adapter in `adapterDir` folded in, as a checkpoint
 * that needs no adapter, into `outDir` (replacing it, atomically). The adapter's kind decides how; see
 * MERGE_SUPPORT.
 */
export function mergeAdapterIntoCheckpoint(modelDir: string, adapterDir: string, outDir: string): MergeResult {
  if (isSelectiveTuningDir(adapterDir)) {
    return { method: 'selective', mergedTensors: replaceTensors(modelDir, adapterDir, outDir, readSelectiveTensors(adapterDir), join(adapterDir, SELECTIVE_WEIGHTS_FILE), 'selective') };
  }
  const configPath = join(adapterDir, ADAPTER_CONFIG_FILE);
  if (!existsSync(configPath)) throw new AdapterError(configPath, `missing: not an adapter directory (${SELECTIVE_CONFIG_FILE} is missing too). tuneloop merge handles ${MERGE_SUPPORT}`);
  const files = readAdapterFiles(adapterDir);
  switch (files.config.peft_type) {
    case 'LORA':
      return { method: 'lora', ...mergeLoraIntoCheckpoint(modelDir, adapterDir, outDir) };
    case 'LN_TUNING':
      return { method: 'ln_tuning', mergedTensors: replaceTensors(modelDir, adapterDir, outDir, lnTuningTensors(files.tensors, join(adapterDir, 'adapter_model.safetensors')), join(adapterDir, 'adapter_model.safetensors'), 'ln_tuning') };
    default:
      throw new AdapterError(configPath, `a ${JSON.stringify(files.config.peft_type)} adapter cannot be merged. tuneloop merge handles ${MERGE_SUPPORT}`, { field: 'peft_type' });
  }
}

/** The tuned tensors of tuneloop's bias or selective tuning files, by checkpoint name without `transformer.`. */
function readSelectiveTensors(dir: string): Map<string, Tensor> {
  const configPath = join(dir, SELECTIVE_CONFIG_FILE);
  let config: { tensors?: unknown };
  try {
    config = JSON.parse(readFileSync(configPath, 'utf8')) as typeof config;
  } catch (cause) {
    throw new AdapterError(configPath, `not valid JSON (${(cause as Error).message})`, {}, { cause });
  }
  if (!Array.isArray(config.tensors) || !config.tensors.every((t) => typeof t === 'string')) throw new AdapterError(configPath, 'must list the tuned tensor names', { field: 'tensors' });
  const weightsPath = join(dir, SELECTIVE_WEIGHTS_FILE);
  if (!existsSync(weightsPath)) throw new AdapterError(weightsPath, 'missing');
  const file = SafetensorsFile.open(weightsPath);
  try {
    const out = new Map<string, Tensor>();
    for (const name of config.tensors as string[]) {
      if (!file.has(name)) throw new AdapterError(weightsPath, 'is missing', { tensor: name });
      out.set(name.replace(/^transformer\./, ''), file.read(name, 'f32'));
    }
    return out;
  } finally {
    file.close();
  }
}

/** peft LN tuning tensors renamed to the checkpoint's LayerNorm names (without `transformer.`). */
function lnTuningTensors(tensors: ReadonlyMap<string, Tensor>, weightsPath: string): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [name, tensor] of tensors) {
    const match = LN_TUNING_NAME.exec(name);
    if (!match) throw new AdapterError(weightsPath, 'is not an LN tuning tensor (expected base_model.model.<module>.ln_tuning_layers.weight|bias)', { tensor: name });
    out.set(`${match[1]}.${match[2]}`.replace(/^transformer\./, ''), tensor);
  }
  return out;
}

/** Writes the checkpoint with `replacements` in place of the base's tensors, after checking each names one of the right size. */
function replaceTensors(modelDir: string, adapterDir: string, outDir: string, replacements: ReadonlyMap<string, Tensor>, weightsPath: string, method: string): number {
  const base = CheckpointTensors.open(modelDir);
  try {
    for (const [name, tensor] of replacements) {
      if (!base.has(name)) throw new AdapterError(weightsPath, `names no tensor of the base model ${modelDir}: the adapter was made for another base model`, { tensor: name });
      const size = base.entry(name).shape.reduce((n, d) => n * d, 1);
      if (tensor.data.length !== size) throw new AdapterError(weightsPath, `has ${tensor.data.length} values but the base model's tensor has ${size}: the adapter was made for another base model`, { tensor: name });
    }
  } finally {
    base.close();
  }
  return writeMergedCheckpoint(modelDir, outDir, (name) => replacements.get(name)?.data as Float32Array | undefined, { base_model: modelDir, adapter: adapterDir, method });
}

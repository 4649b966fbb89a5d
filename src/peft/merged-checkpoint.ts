import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { f32ArrayToBf16 } from '../engine/dtype.js';
import type { Tensor } from '../engine/tensor.js';
import { writeSafetensors } from '../formats/safetensors.js';
import { CheckpointError } from '../errors.js';
import { CheckpointTensors } from '../models/bloom/checkpoint.js';
import { readBloomConfig } from '../models/bloom/config.js';
import { writeDirectoryAtomically } from './adapter-files.js';

/** Files of a model directory that travel unchanged into the merged one. */
const CARRIED_FILES = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'];

/**
 * Gives the merged float32 values of a checkpoint tensor (name without `transformer.`), or undefined to
 * keep it as stored. `read` returns the stored values in float32, for updates that add to them.
 */
export type TensorMerge = (name: string, read: () => Float32Array) => Float32Array | undefined;

/**
 * Unties a tied lm_head (peft's merged model has its own head once modules_to_save replaced the head
 * or the embeddings): lm_head.weight is written as its own tensor, `values` or else the stored
 * embeddings, and config.json says tie_word_embeddings false.
 */
export interface UntiedLmHead {
  readonly values?: Float32Array;
}

/**
 * A Hugging Face checkpoint with some tensors replaced: one model.safetensors with `transformer.`
 * names, each merged tensor stored back in its own dtype, the tokenizer and config files carried over,
 * and `record` written as tuneloop_merge.json. The directory is written beside `outDir` and renamed
 * into place (replacing what was there) only when complete. Returns how many tensors were merged.
 */
export function writeMergedCheckpoint(modelDir: string, outDir: string, merge: TensorMerge, record: Record<string, unknown>, untiedLmHead?: UntiedLmHead): number {
  const config = readBloomConfig(join(modelDir, 'config.json'));
  const untie = config.tieWordEmbeddings && untiedLmHead !== undefined;
  const source = CheckpointTensors.open(modelDir);
  const tensors = new Map<string, Tensor>();
  let mergedTensors = 0;
  try {
    for (const name of source.names()) {
      if (name === 'lm_head.weight' && config.tieWordEmbeddings) continue;
      const entry = source.entry(name);
      const storedName = name === 'lm_head.weight' ? name : `transformer.${name}`;
      if (untie && name === 'word_embeddings.weight') {
        const head = untiedLmHead.values ?? (source.read(name, 'f32', entry.shape).data as Float32Array);
        tensors.set('lm_head.weight', storedAs(name, entry, head));
      }
      const values = merge(name, () => source.read(name, 'f32', entry.shape).data as Float32Array);
      if (!values) {
        tensors.set(storedName, source.read(name, entry.dtype, entry.shape));
        continue;
      }
      mergedTensors++;
      tensors.set(storedName, storedAs(name, entry, values));
    }
  } finally {
    source.close();
  }
  writeDirectoryAtomically(outDir, (staging) => {
    writeSafetensors(join(staging, 'model.safetensors'), tensors, { format: 'pt' });
    for (const file of CARRIED_FILES) if (existsSync(join(modelDir, file))) copyFileSync(join(modelDir, file), join(staging, file));
    if (untie) {
      const configJson = JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8')) as Record<string, unknown>;
      writeFileSync(join(staging, 'config.json'), `${JSON.stringify({ ...configJson, tie_word_embeddings: false }, null, 2)}\n`);
    }
    writeFileSync(join(staging, 'tuneloop_merge.json'), `${JSON.stringify({ ...record, merged_tensors: mergedTensors }, null, 2)}\n`);
  });
  return mergedTensors;
}

/** Float32 values stored back in the checkpoint entry's own dtype (F16 is refused). */
function storedAs(name: string, entry: { readonly dtype: Tensor['dtype']; readonly shape: readonly number[]; readonly file: string }, values: Float32Array): Tensor {
  if (entry.dtype === 'f16') {
    throw new CheckpointError(entry.file, 'merging into F16 weights is not supported yet; convert the checkpoint to F32 or BF16 first', { tensor: name });
  }
  return entry.dtype === 'bf16' ? { dtype: 'bf16', shape: entry.shape, data: f32ArrayToBf16(values) } : { dtype: 'f32', shape: entry.shape, data: values };
}

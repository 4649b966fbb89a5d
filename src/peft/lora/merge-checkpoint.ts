import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { f32ArrayToBf16 } from '../../engine/dtype.js';
import type { Tensor } from '../../engine/tensor.js';
import { writeSafetensors } from '../../formats/safetensors.js';
import { CheckpointError } from '../../errors.js';
import { CheckpointTensors } from '../../models/bloom/checkpoint.js';
import { readBloomConfig } from '../../models/bloom/config.js';
import type { BlockLinearName } from '../../models/bloom/model.js';
import { readLoraAdapter } from './model.js';

/** A float32 tensor stored in the checkpoint's dtype `dtype` (F16 is refused as for merged weights). */
function inDtype(tensor: Tensor, dtype: Tensor['dtype']): Tensor {
  const values = tensor.data as Float32Array;
  if (dtype === 'bf16') return { dtype: 'bf16', shape: tensor.shape, data: f32ArrayToBf16(values) };
  if (dtype === 'f32') return { dtype: 'f32', shape: tensor.shape, data: values };
  throw new CheckpointError('model.safetensors', `merging modules_to_save into ${dtype.toUpperCase()} weights is not supported yet; convert the checkpoint to F32 or BF16 first`);
}

/** Files of a model directory that travel unchanged into the merged one. */
const CARRIED_FILES = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'];

/**
 * peft's merge_and_unload written to disk: a Hugging Face checkpoint whose targeted weights are
 * W + scaling·B·A, for DoRA rescaled per row to m/‖W + scaling·B·A‖ (computed in float32 from the
 * stored values, stored back in their own dtype), in one
 * model.safetensors with `transformer.` names. Written to a staging directory and renamed into place.
 * modules_to_save tensors replace the base ones; replacing the lm_head or the word embeddings of a
 * tied model unties them (as peft's merged model is), so lm_head.weight is written as its own tensor
 * and config.json says tie_word_embeddings false.
 */
export function mergeLoraIntoCheckpoint(modelDir: string, adapterDir: string, outDir: string): { mergedTensors: number } {
  const config = readBloomConfig(join(modelDir, 'config.json'));
  const adapter = readLoraAdapter(adapterDir, config);
  const source = CheckpointTensors.open(modelDir);
  const tensors = new Map<string, Tensor>();
  const replacements = adapter.modulesToSave;
  const untie = config.tieWordEmbeddings && (replacements.has('lm_head.weight') || replacements.has('transformer.word_embeddings.weight'));
  let mergedTensors = 0;
  try {
    for (const name of source.names()) {
      if (name === 'lm_head.weight' && config.tieWordEmbeddings) continue;
      const entry = source.entry(name);
      const storedAs = name === 'lm_head.weight' ? name : `transformer.${name}`;
      if (untie && storedAs === 'transformer.word_embeddings.weight') {
        // The lm_head keeps the base embeddings unless it is replaced itself.
        const head = replacements.get('lm_head.weight') ?? source.read(name, 'f32', entry.shape);
        tensors.set('lm_head.weight', inDtype(head, entry.dtype));
      }
      const replacement = replacements.get(storedAs);
      if (replacement) {
        tensors.set(storedAs, inDtype(replacement, entry.dtype));
        mergedTensors++;
        continue;
      }
      const match = /^h\.(\d+)\.(?:self_attention|mlp)\.(query_key_value|dense|dense_h_to_4h|dense_4h_to_h)\.weight$/.exec(name);
      const layer = match ? adapter.layer(Number(match[1]), match[2] as BlockLinearName) : undefined;
      if (!layer) {
        tensors.set(storedAs, source.read(name, entry.dtype, entry.shape));
        continue;
      }
      if (entry.dtype === 'f16') {
        throw new CheckpointError(entry.file, 'merging into F16 weights is not supported yet; convert the checkpoint to F32 or BF16 first', { tensor: name });
      }
      const merged = source.read(name, 'f32', entry.shape);
      const values = merged.data as Float32Array;
      layer.mergeInto(values);
      mergedTensors++;
      tensors.set(storedAs, entry.dtype === 'bf16' ? { dtype: 'bf16', shape: entry.shape, data: f32ArrayToBf16(values) } : merged);
    }
  } finally {
    source.close();
  }
  const parent = dirname(outDir);
  mkdirSync(parent, { recursive: true });
  const staging = join(parent, `.${basename(outDir)}.tmp-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging);
  writeSafetensors(join(staging, 'model.safetensors'), tensors, { format: 'pt' });
  for (const file of CARRIED_FILES) if (existsSync(join(modelDir, file))) copyFileSync(join(modelDir, file), join(staging, file));
  if (untie) {
    const configJson = JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(staging, 'config.json'), `${JSON.stringify({ ...configJson, tie_word_embeddings: false }, null, 2)}\n`);
  }
  writeFileSync(join(staging, 'tuneloop_merge.json'), `${JSON.stringify({ base_model: modelDir, adapter: adapterDir, merged_tensors: mergedTensors }, null, 2)}\n`);
  rmSync(outDir, { recursive: true, force: true });
  renameSync(staging, outDir);
  return { mergedTensors };
}

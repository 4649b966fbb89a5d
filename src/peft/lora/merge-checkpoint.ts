import { join } from 'node:path';
import { readBloomConfig } from '../../models/bloom/config.js';
import type { BlockLinearName } from '../../models/bloom/model.js';
import { writeMergedCheckpoint } from '../merged-checkpoint.js';
import { readLoraAdapter } from './model.js';

/**
 * peft's merge_and_unload written to disk: a Hugging Face checkpoint whose targeted weights are
 * W + scaling·B·A, for DoRA rescaled per row to m/‖W + scaling·B·A‖ (computed in float32 from the
 * stored values, stored back in their own dtype). modules_to_save tensors replace the base ones;
 * replacing the lm_head or the word embeddings of a tied model unties them (as peft's merged model
 * is), so lm_head.weight is written as its own tensor and config.json says tie_word_embeddings false.
 */
export function mergeLoraIntoCheckpoint(modelDir: string, adapterDir: string, outDir: string): { mergedTensors: number } {
  const config = readBloomConfig(join(modelDir, 'config.json'));
  const adapter = readLoraAdapter(adapterDir, config);
  const replacements = adapter.modulesToSave;
  const replacesHeadOrEmbeddings = replacements.has('lm_head.weight') || replacements.has('transformer.word_embeddings.weight');
  const mergedTensors = writeMergedCheckpoint(
    modelDir,
    outDir,
    (name, read) => {
      const replacement = replacements.get(name === 'lm_head.weight' ? name : `transformer.${name}`);
      if (replacement) return Float32Array.from(replacement.data as Float32Array);
      const match = /^h\.(\d+)\.(?:self_attention|mlp)\.(query_key_value|dense|dense_h_to_4h|dense_4h_to_h)\.weight$/.exec(name);
      const layer = match ? adapter.layer(Number(match[1]), match[2] as BlockLinearName) : undefined;
      if (!layer) return undefined;
      const values = read();
      layer.mergeInto(values);
      return values;
    },
    { base_model: modelDir, adapter: adapterDir, method: 'lora' },
    // The lm_head keeps the base embeddings unless it is replaced itself.
    replacesHeadOrEmbeddings ? { values: replacements.get('lm_head.weight')?.data as Float32Array | undefined } : undefined,
  );
  return { mergedTensors };
}

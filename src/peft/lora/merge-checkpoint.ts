import { join } from 'node:path';
import { readBloomConfig } from '../../models/bloom/config.js';
import type { BlockLinearName } from '../../models/bloom/model.js';
import { writeMergedCheckpoint } from '../merged-checkpoint.js';
import { readLoraAdapter } from './model.js';

/**
 * peft's merge_and_unload written to disk: a Hugging Face checkpoint whose targeted weights are
 * W + scaling·B·A (computed in float32 from the stored values, stored back in their own dtype).
 */
export function mergeLoraIntoCheckpoint(modelDir: string, adapterDir: string, outDir: string): { mergedTensors: number } {
  const adapter = readLoraAdapter(adapterDir, readBloomConfig(join(modelDir, 'config.json')));
  const mergedTensors = writeMergedCheckpoint(
    modelDir,
    outDir,
    (name, read) => {
      const match = /^h\.(\d+)\.(?:self_attention|mlp)\.(query_key_value|dense|dense_h_to_4h|dense_4h_to_h)\.weight$/.exec(name);
      const layer = match ? adapter.layer(Number(match[1]), match[2] as BlockLinearName) : undefined;
      if (!layer) return undefined;
      const values = read();
      const delta = layer.delta();
      for (let i = 0; i < values.length; i++) values[i] += delta[i];
      return values;
    },
    { base_model: modelDir, adapter: adapterDir, method: 'lora' },
  );
  return { mergedTensors };
}

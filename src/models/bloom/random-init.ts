import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { f32ArrayToBf16 } from '../../engine/dtype.js';
import type { Tensor } from '../../engine/tensor.js';
import { writeSafetensors } from '../../formats/safetensors.js';
import { SeededRandom } from '../../inference/sampling.js';
import { type BloomConfig, bloomConfigToJson } from './config.js';

/**
 * Writes a BLOOM checkpoint with random weights in Hugging Face layout: config.json and
 * model.safetensors with `transformer.`-prefixed names and the tied lm_head left out, as
 * BloomForCausalLM.save_pretrained writes it. Used for the shipped demo model and the benchmark.
 * Matrices are normal with std `initStd` (transformers' initializer_range); LayerNorms start at 1 and 0.
 */
export function writeRandomBloomCheckpoint(dir: string, config: BloomConfig, options: { seed: number; dtype?: 'f32' | 'bf16'; initStd?: number }): void {
  const random = new SeededRandom(options.seed);
  const std = options.initStd ?? 0.02;
  const h = config.hiddenSize;
  const tensors = new Map<string, Tensor>();
  const store = (name: string, shape: number[], values: Float32Array) => {
    tensors.set(`transformer.${name}`, options.dtype === 'bf16' ? { dtype: 'bf16', shape, data: f32ArrayToBf16(values) } : { dtype: 'f32', shape, data: values });
  };
  const normal = (count: number) => {
    const values = new Float32Array(count);
    for (let i = 0; i < count; i += 2) {
      // Box-Muller: two independent normals from two uniforms.
      const radius = Math.sqrt(-2 * Math.log(1 - random.next())) * std;
      const angle = 2 * Math.PI * random.next();
      values[i] = radius * Math.cos(angle);
      if (i + 1 < count) values[i + 1] = radius * Math.sin(angle);
    }
    return values;
  };
  const matrix = (name: string, out: number, inFeatures: number) => store(name, [out, inFeatures], normal(out * inFeatures));
  const zeros = (name: string, n: number) => store(name, [n], new Float32Array(n));
  const ones = (name: string, n: number) => store(name, [n], new Float32Array(n).fill(1));
  const layerNorm = (name: string) => {
    ones(`${name}.weight`, h);
    zeros(`${name}.bias`, h);
  };

  matrix('word_embeddings.weight', config.vocabSize, h);
  layerNorm('word_embeddings_layernorm');
  for (let i = 0; i < config.numLayers; i++) {
    const p = `h.${i}`;
    layerNorm(`${p}.input_layernorm`);
    matrix(`${p}.self_attention.query_key_value.weight`, 3 * h, h);
    zeros(`${p}.self_attention.query_key_value.bias`, 3 * h);
    matrix(`${p}.self_attention.dense.weight`, h, h);
    zeros(`${p}.self_attention.dense.bias`, h);
    layerNorm(`${p}.post_attention_layernorm`);
    matrix(`${p}.mlp.dense_h_to_4h.weight`, 4 * h, h);
    zeros(`${p}.mlp.dense_h_to_4h.bias`, 4 * h);
    matrix(`${p}.mlp.dense_4h_to_h.weight`, h, 4 * h);
    zeros(`${p}.mlp.dense_4h_to_h.bias`, h);
  }
  layerNorm('ln_f');

  mkdirSync(dir, { recursive: true });
  writeSafetensors(join(dir, 'model.safetensors'), tensors);
  const configPath = join(dir, 'config.json');
  writeFileSync(`${configPath}.tmp`, `${JSON.stringify(bloomConfigToJson(config), null, 2)}\n`);
  renameSync(`${configPath}.tmp`, configPath);
}

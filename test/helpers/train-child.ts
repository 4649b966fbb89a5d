/**
 * A small training run in its own process, for the kill-and-resume test: LoRA on fixture ckpt_a,
 * learning to continue a fixed token pattern. Usage: node train-child.js OUTPUT_DIR
 * Prints one line per step ("step N") and writes OUTPUT_DIR/final.safetensors at the end.
 */
import { join } from 'node:path';
import { TypeScriptBackend } from '../../src/engine/backends/typescript.js';
import { writeSafetensors } from '../../src/formats/safetensors.js';
import { SeededRandom } from '../../src/inference/sampling.js';
import { BloomModel } from '../../src/models/bloom/model.js';
import { createLoraAdapter } from '../../src/peft/lora/model.js';
import type { TrainingBatch } from '../../src/train/bloom-backward.js';
import { train } from '../../src/train/trainer.js';
import { loadReference } from './reference.js';

export function patternBatches(count: number, seed: number): TrainingBatch[] {
  const random = new SeededRandom(seed);
  return Array.from({ length: count }, () => {
    const ids = new Int32Array(2 * 8);
    for (let b = 0; b < 2; b++) {
      const start = 10 + Math.floor(random.next() * 100);
      for (let t = 0; t < 8; t++) ids[b * 8 + t] = start + 3 * t;
    }
    return { ids, mask: new Uint8Array(16).fill(1), labels: Int32Array.from(ids), batch: 2 };
  });
}

const outputDir = process.argv[2];
if (outputDir) {
  const model = BloomModel.load(loadReference('a').checkpointDir, { backend: new TypeScriptBackend(), dtype: 'f32' });
  const random = new SeededRandom(11);
  const lora = createLoraAdapter(model.config, { r: 4, loraAlpha: 8, loraDropout: 0, targetModules: ['query_key_value', 'dense_4h_to_h'], useRslora: false }, 'default', () => random.next());
  train({
    model,
    trainables: { lora },
    trainBatches: patternBatches(5, 3),
    epochs: 2,
    gradientAccumulation: 1,
    maxGradNorm: 1,
    adamw: { lr: 5e-3 },
    schedule: { kind: 'cosine', warmupSteps: 2 },
    checkpointEvery: 2,
    outputDir,
    seed: 5,
    onStep: (event) => process.stdout.write(`step ${event.step} loss ${event.loss.toFixed(4)}\n`),
  });
  writeSafetensors(join(outputDir, 'final.safetensors'), lora.tensors());
}

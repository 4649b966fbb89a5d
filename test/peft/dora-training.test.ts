/**
 * DoRA training beyond the peft fixture (test/peft/dora.test.ts): dropout, gradient checkpointing, an
 * NF4 base (QLoRA), the training YAML, and a short run that learns.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { TypeScriptBackend } from '../../src/engine/backends/typescript.js';
import { SeededRandom } from '../../src/inference/sampling.js';
import { BloomModel } from '../../src/models/bloom/model.js';
import type { LinearParams } from '../../src/models/bloom/weights.js';
import type { LoraConfig } from '../../src/peft/lora/config.js';
import { type LoraAdapter, createLoraAdapter } from '../../src/peft/lora/model.js';
import { type TrainingBatch, forwardBackward } from '../../src/train/bloom-backward.js';
import { parseTrainConfig } from '../../src/train/config.js';
import { train } from '../../src/train/trainer.js';
import { backendCases } from '../helpers/backends.js';
import { assertClose } from '../helpers/numeric.js';
import { loadReference } from '../helpers/reference.js';
import { patternBatches } from '../helpers/train-child.js';

const ref = loadReference('b');
const scratch = mkdtempSync(join(tmpdir(), 'tuneloop-dora-training-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const batch: TrainingBatch = { ids: ref.ints('input_ids'), mask: Uint8Array.from(ref.ints('attention_mask')), labels: ref.ints('train_labels'), batch: 3 };

/** A DoRA adapter with B and the magnitude moved off their initial values, so every path carries gradient. */
function doraAdapter(model: BloomModel, config: Partial<LoraConfig>, seed: number): LoraAdapter {
  const random = new SeededRandom(seed);
  const full: LoraConfig = { r: 4, loraAlpha: 8, loraDropout: 0, targetModules: ['query_key_value', 'dense_4h_to_h'], useRslora: false, useDora: true, ...config };
  const adapter = createLoraAdapter(model.config, full, 'default', () => random.next(), { baseModel: model });
  for (const layer of adapter.layers.values()) {
    for (let i = 0; i < layer.b.length; i++) layer.b[i] = 0.1 * (random.next() - 0.5);
    for (let i = 0; i < layer.magnitude!.length; i++) layer.magnitude![i] *= 1 + 0.2 * (random.next() - 0.5);
  }
  return adapter;
}

const BLOCK_FIELD = { query_key_value: 'queryKeyValue', dense: 'dense', dense_h_to_4h: 'denseHTo4h', dense_4h_to_h: 'dense4hToH' } as const;

/**
 * Central differences of the loss at a few entries, against the analytic gradient. peft detaches the
 * norm ‖W + s·B·A‖, so A's and B's gradients are those with the per-row factor m/‖…‖ held constant: a
 * step in A or B is taken with m rescaled by the norm's change, which keeps that factor fixed.
 */
function checkAgainstFiniteDifferences(model: BloomModel, adapter: LoraAdapter, lossOf: () => number, grads: Map<string, Float32Array>, probes: readonly (readonly [string, number])[]): void {
  const parameters = new Map([...adapter.tensors()].map(([name, tensor]) => [name, tensor.data as Float32Array]));
  const step = 1e-2;
  for (const [name, index] of probes) {
    const [, layerIndex, module] = /\.h\.(\d+)\.\w+\.(\w+)\.lora_/.exec(name)! as unknown as [string, string, keyof typeof BLOCK_FIELD];
    const layer = adapter.layer(Number(layerIndex), module)!;
    const weight = (model.weights.blocks[Number(layerIndex)][BLOCK_FIELD[module]] as LinearParams).weight;
    const magnitude = Float32Array.from(layer.magnitude!);
    const norms = layer.weightRowNorms(model.backend, weight);
    const holdFactor = () => {
      if (name.endsWith('lora_magnitude_vector')) return;
      const moved = layer.weightRowNorms(model.backend, weight);
      for (let o = 0; o < magnitude.length; o++) layer.magnitude![o] = (magnitude[o] * moved[o]) / norms[o];
    };
    const values = parameters.get(name)!;
    const original = values[index];
    values[index] = original + step;
    holdFactor();
    const up = lossOf();
    values[index] = original - step;
    holdFactor();
    const down = lossOf();
    values[index] = original;
    layer.magnitude!.set(magnitude);
    const numeric = (up - down) / (2 * step);
    const analytic = grads.get(name)![index];
    assert.ok(Math.abs(numeric - analytic) < 2e-3 * Math.max(1e-2, Math.abs(analytic)) + 2e-5, `${name}[${index}]: ${analytic} vs ${numeric}`);
  }
}

const QKV0 = 'base_model.model.transformer.h.0.self_attention.query_key_value';
const MLP1 = 'base_model.model.transformer.h.1.mlp.dense_4h_to_h';
const PROBES = [
  [`${QKV0}.lora_A.weight`, 7],
  [`${QKV0}.lora_B.weight`, 30],
  [`${QKV0}.lora_magnitude_vector`, 100],
  [`${MLP1}.lora_A.weight`, 50],
  [`${MLP1}.lora_magnitude_vector`, 11],
] as const;

test('DoRA with dropout: the base path sees the dropped input, and gradients agree with finite differences under the same masks', () => {
  const model = BloomModel.load(ref.checkpointDir, { backend: new TypeScriptBackend(), dtype: 'f32' });
  const adapter = doraAdapter(model, { loraDropout: 0.3 }, 5);
  const withSeed = () => forwardBackward(model, batch, { lora: adapter }, { dropoutSeed: 11 });
  const first = withSeed();
  assert.equal(withSeed().loss, first.loss, 'the same seed draws the same masks');
  assert.notEqual(forwardBackward(model, batch, { lora: adapter }, { gradients: false }).loss, first.loss, 'no seed, no dropout');
  checkAgainstFiniteDifferences(model, adapter, () => withSeed().loss, first.grads, PROBES);
});

test('DoRA on an NF4 base (QLoRA): the norms use the dequantised weight, so gradients agree with finite differences', () => {
  const model = BloomModel.load(ref.checkpointDir, { backend: new TypeScriptBackend(), dtype: 'f32', quantization: 'nf4' });
  const adapter = doraAdapter(model, {}, 6);
  // A fresh adapter (B = 0, m = ‖W‖) leaves the quantised model's loss unchanged.
  const random = new SeededRandom(1);
  const fresh = createLoraAdapter(model.config, { r: 4, loraAlpha: 8, loraDropout: 0, targetModules: ['query_key_value'], useRslora: false, useDora: true }, 'default', () => random.next(), { baseModel: model });
  const base = forwardBackward(model, batch, {}, { gradients: false }).loss;
  assert.ok(Math.abs(forwardBackward(model, batch, { lora: fresh }, { gradients: false }).loss - base) < 1e-6);
  const result = forwardBackward(model, batch, { lora: adapter });
  checkAgainstFiniteDifferences(model, adapter, () => forwardBackward(model, batch, { lora: adapter }, { gradients: false }).loss, result.grads, PROBES);
});

for (const { name, backend, skipReason } of await backendCases()) {
  describe(`${name} backend: DoRA training`, { skip: skipReason }, () => {
    test('gradient checkpointing gives the same loss and gradients, dropout included', () => {
      const model = BloomModel.load(ref.checkpointDir, { backend: backend!, dtype: 'f32' });
      const adapter = doraAdapter(model, { loraDropout: 0.2, targetModules: ['query_key_value', 'dense_h_to_4h'] }, 8);
      const plain = forwardBackward(model, batch, { lora: adapter }, { dropoutSeed: 3 });
      const checkpointed = forwardBackward(model, batch, { lora: adapter }, { dropoutSeed: 3, gradientCheckpointing: true });
      assert.ok(Math.abs(plain.loss - checkpointed.loss) < 1e-6 * Math.abs(plain.loss));
      assert.deepEqual([...checkpointed.grads.keys()].sort(), [...plain.grads.keys()].sort());
      for (const [gradName, grad] of plain.grads) assertClose(checkpointed.grads.get(gradName)!, grad, 1e-5, gradName);
    });
  });
}

test('a short DoRA run learns, and moves the magnitude', () => {
  const model = BloomModel.load(loadReference('a').checkpointDir, { backend: new TypeScriptBackend(), dtype: 'f32' });
  const random = new SeededRandom(11);
  const lora = createLoraAdapter(model.config, { r: 4, loraAlpha: 8, loraDropout: 0, targetModules: ['query_key_value', 'dense_4h_to_h'], useRslora: false, useDora: true }, 'default', () => random.next(), { baseModel: model });
  const initialMagnitude = Float32Array.from(lora.layers.values().next().value!.magnitude!);
  const batches = patternBatches(4, 3);
  const lossBefore = batches.reduce((sum, b) => sum + forwardBackward(model, b, { lora }, { gradients: false }).loss, 0);
  train({ model, trainables: { lora }, trainBatches: batches, epochs: 3, gradientAccumulation: 1, adamw: { lr: 1e-2 }, schedule: { kind: 'constant', warmupSteps: 0 }, outputDir: join(scratch, 'run'), seed: 1 });
  const lossAfter = batches.reduce((sum, b) => sum + forwardBackward(model, b, { lora }, { gradients: false }).loss, 0);
  assert.ok(lossAfter < 0.9 * lossBefore, `loss ${lossBefore / 4} → ${lossAfter / 4}`);
  const magnitude = lora.layers.values().next().value!.magnitude!;
  assert.ok(magnitude.some((m, i) => Math.abs(m - initialMagnitude[i]) > 1e-3), 'the magnitude trained');
});

test('the training YAML takes method.use_dora for LoRA and QLoRA', () => {
  const raw = (method: Record<string, unknown>) => ({ model: 'models/demo', tasks: [{ name: 't', train: 't.jsonl' }], method });
  const lora = parseTrainConfig(raw({ type: 'lora', use_dora: true })).method;
  assert.equal(lora.type === 'lora' && lora.useDora, true);
  const qlora = parseTrainConfig(raw({ type: 'qlora', use_dora: true })).method;
  assert.equal(qlora.type === 'qlora' && qlora.useDora, true);
  const plain = parseTrainConfig(raw({ type: 'lora' })).method;
  assert.equal(plain.type === 'lora' && plain.useDora, false);
  assert.throws(() => parseTrainConfig(raw({ type: 'lora', use_dora: 'yes' })), /method\.use_dora/);
});

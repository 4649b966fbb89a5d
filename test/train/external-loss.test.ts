import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { asTrainingBackend } from '../../src/engine/training-backend.js';
import { SeededRandom } from '../../src/inference/sampling.js';
import { BloomModel } from '../../src/models/bloom/model.js';
import { createLoraAdapter, readLoraAdapter, type LoraAdapter } from '../../src/peft/lora/model.js';
import { readPromptTuningAdapter } from '../../src/peft/prompt-tuning/model.js';
import { tunableTensorNames } from '../../src/peft/selective/config.js';
import { SelectiveTuning } from '../../src/peft/selective/model.js';
import {
  type ExternalLoss,
  type LossInput,
  type Trainables,
  type TrainingBatch,
  IGNORE_INDEX,
  forwardBackward,
  forwardBackwardWithLoss,
} from '../../src/train/bloom-backward.js';
import { backendCases } from '../helpers/backends.js';
import { centralDifference } from '../helpers/gradient-checks.js';
import { assertClose } from '../helpers/numeric.js';
import { loadReference } from '../helpers/reference.js';

const cases = await backendCases();
const ref = loadReference('a');
const refDir = join(ref.checkpointDir, '..', 'ref_a');
const batch: TrainingBatch = { ids: ref.ints('input_ids'), mask: Uint8Array.from(ref.ints('attention_mask')), labels: ref.ints('train_labels'), batch: 3 };

/** A LoRA adapter whose B is nonzero, so that every LoRA parameter carries gradient. */
function randomLora(model: BloomModel, dropout: number): LoraAdapter {
  const random = new SeededRandom(21);
  const lora = createLoraAdapter(model.config, { r: 4, loraAlpha: 8, loraDropout: dropout, targetModules: ['query_key_value', 'dense', 'dense_4h_to_h'], useRslora: false }, 'default', () => random.next());
  for (const layer of lora.layers.values()) for (let i = 0; i < layer.b.length; i++) layer.b[i] = 0.05 * (random.next() - 0.5);
  return lora;
}

function biasesAndLayerNorms(model: BloomModel): SelectiveTuning {
  const names = tunableTensorNames(model.config).filter((name) => name.endsWith('.bias') || name.includes('layernorm') || name.includes('ln_f'));
  return new SelectiveTuning(model, { kind: 'named', patterns: names }, names);
}

/** The language model's own loss, written as an external loss on the logits: cross-entropy on shifted labels. */
function crossEntropyOnLogits(model: BloomModel): ExternalLoss {
  const backend = asTrainingBackend(model.backend);
  return {
    on: 'logits',
    lossAndGradient: ({ values, batch: rowsInBatch, seqLen, width, virtualTokens }: LossInput) => {
      const tokenLen = seqLen - virtualTokens;
      const targets = new Int32Array(rowsInBatch * seqLen).fill(IGNORE_INDEX);
      for (let b = 0; b < rowsInBatch; b++) {
        // Position p predicts token p + 1; with a soft prompt its last position predicts the first token.
        for (let t = 0; t < tokenLen; t++) {
          const p = virtualTokens + t - 1;
          if (p >= 0) targets[b * seqLen + p] = batch.labels[b * tokenLen + t];
        }
      }
      const counted = targets.filter((t) => t !== IGNORE_INDEX).length;
      const { lossSum, dLogits } = backend.crossEntropy(Float32Array.from(values), width, targets, 1 / counted);
      return { loss: lossSum / counted, gradient: dLogits };
    },
  };
}

/** A reward-head-like loss: Σ over rows of a fixed random projection of the final hidden state at the row's last real token. */
function projectionAtLastRealToken(hiddenSize: number): ExternalLoss {
  const random = new SeededRandom(4);
  const projection = Float64Array.from({ length: hiddenSize }, () => random.next() - 0.5);
  return {
    on: 'hidden',
    lossAndGradient: ({ values, batch: rowsInBatch, seqLen, width, mask }: LossInput) => {
      let loss = 0;
      const gradient = new Float32Array(values.length);
      for (let b = 0; b < rowsInBatch; b++) {
        let last = seqLen - 1;
        while (last > 0 && mask[b * seqLen + last] === 0) last--;
        const base = (b * seqLen + last) * width;
        for (let i = 0; i < width; i++) {
          loss += projection[i] * values[base + i];
          gradient[base + i] = projection[i];
        }
      }
      return { loss, gradient };
    },
  };
}

for (const { name: backendName, backend, skipReason } of cases) {
  test(`${backendName} backend: the cross-entropy's own gradient on the logits, fed back as an external loss, gives the cross-entropy path's loss and gradients`, { skip: skipReason }, () => {
    const model = BloomModel.load(ref.checkpointDir, { backend: backend!, dtype: 'f32' });
    const sets: [string, Trainables][] = [
      ['LoRA and selective', { lora: readLoraAdapter(join(refDir, 'lora_adapter'), model.config), selective: biasesAndLayerNorms(model) }],
      ['prompt tuning', { prompt: readPromptTuningAdapter(join(refDir, 'prompt_tuning_adapter'), model.config) }],
    ];
    for (const [label, trainables] of sets) {
      const expected = forwardBackward(model, batch, trainables);
      const actual = forwardBackwardWithLoss(model, batch, trainables, crossEntropyOnLogits(model));
      assert.ok(Math.abs(actual.loss - expected.loss) <= 1e-6 * Math.abs(expected.loss), `${label}: loss ${actual.loss} vs ${expected.loss}`);
      assert.deepEqual([...actual.grads.keys()].sort(), [...expected.grads.keys()].sort(), label);
      for (const [name, grad] of expected.grads) assertClose(actual.grads.get(name)!, grad, 1e-6, `${label}: ${name}`);
    }
  });

  test(`${backendName} backend: LoRA gradients of a loss on the final hidden states agree with central finite differences`, { skip: skipReason }, () => {
    const model = BloomModel.load(ref.checkpointDir, { backend: backend!, dtype: 'f32' });
    const lora = randomLora(model, 0);
    const loss = projectionAtLastRealToken(model.config.hiddenSize);
    const { grads } = forwardBackwardWithLoss(model, batch, { lora }, loss);
    const parameters = new Map([...lora.tensors()].map(([name, tensor]) => [name, tensor.data as Float32Array]));
    const lossValue = () => forwardBackwardWithLoss(model, batch, { lora }, loss, { gradients: false }).loss;
    const step = 1e-2;
    for (const [name, index] of [
      ['base_model.model.transformer.h.0.self_attention.query_key_value.lora_A.weight', 7],
      ['base_model.model.transformer.h.0.self_attention.query_key_value.lora_B.weight', 30],
      ['base_model.model.transformer.h.1.self_attention.dense.lora_A.weight', 12],
      ['base_model.model.transformer.h.1.mlp.dense_4h_to_h.lora_B.weight', 50],
    ] as const) {
      const numeric = centralDifference(parameters.get(name)!, index, step, lossValue);
      const analytic = grads.get(name)![index];
      assert.ok(Math.abs(numeric - analytic) < 2e-3 * Math.max(1e-2, Math.abs(analytic)) + 2e-5, `${name}[${index}]: ${analytic} vs ${numeric}`);
    }
  });

  test(`${backendName} backend: with gradient checkpointing an external loss gives the same loss and gradients, LoRA dropout included`, { skip: skipReason }, () => {
    const model = BloomModel.load(ref.checkpointDir, { backend: backend!, dtype: 'f32' });
    const trainables: Trainables = { lora: randomLora(model, 0.2), selective: biasesAndLayerNorms(model) };
    for (const loss of [projectionAtLastRealToken(model.config.hiddenSize), crossEntropyOnLogits(model)]) {
      const plain = forwardBackwardWithLoss(model, batch, trainables, loss, { dropoutSeed: 3 });
      const checkpointed = forwardBackwardWithLoss(model, batch, trainables, loss, { dropoutSeed: 3, gradientCheckpointing: true });
      assert.ok(Math.abs(plain.loss - checkpointed.loss) <= 1e-6 * Math.abs(plain.loss), `${loss.on}: loss ${checkpointed.loss} vs ${plain.loss}`);
      assert.deepEqual([...checkpointed.grads.keys()].sort(), [...plain.grads.keys()].sort());
      for (const [name, grad] of plain.grads) assertClose(checkpointed.grads.get(name)!, grad, 1e-5, `${loss.on}: ${name}`);
    }
  });
}

test('an external loss whose gradient has the wrong shape is rejected, naming the tensor it should match', () => {
  const model = BloomModel.load(ref.checkpointDir, { backend: cases.find((c) => c.name === 'typescript')!.backend!, dtype: 'f32' });
  const wrong: ExternalLoss = { on: 'hidden', lossAndGradient: () => ({ loss: 1, gradient: new Float32Array(3) }) };
  assert.throws(() => forwardBackwardWithLoss(model, batch, { lora: randomLora(model, 0) }, wrong), /gradient.*hidden shape 3 x/);
});

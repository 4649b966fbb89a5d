/**
 * Checks of a backend's `GradientOps`, written once and run on every backend that trains.
 *
 * Each backward op is compared with central finite differences of the backend's own forward op. The
 * loss is a random projection L = Σ r ⊙ f(x), so that dL/dx = backward(dy = r) is the whole
 * vector-Jacobian product, checked entry by entry. Forward outputs are float32, so the difference
 * quotient carries rounding noise of about 1e-7 / step; steps of 1e-2 keep that and the O(step²)
 * truncation error well below the 1e-3 relative tolerance at these small, well-scaled sizes.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { AttentionArgs, Backend } from '../../src/engine/backend.js';
import { bf16ArrayToF32, f32ArrayToBf16 } from '../../src/engine/dtype.js';
import type { GradientOps } from '../../src/engine/gradients.js';
import type { Tensor } from '../../src/engine/tensor.js';
import { SafetensorsFile } from '../../src/formats/safetensors.js';
import { alibiSlopes } from '../../src/models/bloom/alibi.js';
import { referenceDir } from './paths.js';
import { maxAbsDiff } from './reference.js';
import { randomF32, rng } from './numeric.js';

export type TrainingBackend = Backend & GradientOps;

export interface GradientCheck {
  readonly name: string;
  readonly run: (backend: TrainingBackend) => void;
}

const STEP = 1e-2;
const GRADIENT_RTOL = 1e-3;

function f32Tensor(shape: [number, number], data: Float32Array): Tensor {
  return { dtype: 'f32', shape, data };
}

/** Σ r ⊙ y in float64. */
function project(r: Float32Array, y: Float32Array): number {
  assert.equal(y.length, r.length, 'projection: output length');
  let sum = 0;
  for (let i = 0; i < r.length; i++) sum += r[i] * y[i];
  return sum;
}

/**
 * Central differences of `loss` with respect to every entry of `input`, which is perturbed in place and
 * restored. Divides by the step actually taken, since x ± STEP is rounded to float32.
 */
function numericGradient(input: Float32Array, loss: () => number, step = STEP): Float64Array {
  const gradient = new Float64Array(input.length);
  for (let i = 0; i < input.length; i++) {
    const original = input[i];
    input[i] = original + step;
    const up = input[i];
    const lossUp = loss();
    input[i] = original - step;
    const down = input[i];
    const lossDown = loss();
    input[i] = original;
    gradient[i] = (lossUp - lossDown) / (up - down);
  }
  return gradient;
}

function rms(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] * values[i];
  return Math.sqrt(sum / Math.max(1, values.length));
}

/**
 * |actual − expected| ≤ rtol · (|expected| + RMS(expected)), elementwise. The RMS term keeps entries
 * near zero from being held to a relative bound that rounding alone would break.
 */
function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, label: string, rtol = GRADIENT_RTOL): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  const scale = rms(expected);
  for (let i = 0; i < expected.length; i++) {
    const bound = rtol * (Math.abs(expected[i]) + scale);
    const difference = Math.abs(actual[i] - expected[i]);
    if (!(difference <= bound)) assert.fail(`${label}: element ${i} is ${actual[i]}, expected ${expected[i]} (|diff| ${difference} > ${bound})`);
  }
}

/**
 * Gradients of C = op(A)·op(B) for dC, in A's and B's storage layouts, computed with the backend's
 * matmul the way training computes weight gradients.
 */
function matmulGradients(
  backend: TrainingBackend,
  a: Float32Array,
  b: Float32Array,
  dC: Float32Array,
  [m, k, n]: [number, number, number],
  transposeA: boolean,
  transposeB: boolean,
): { dA: Float32Array; dB: Float32Array } {
  // dop(A) = dC·op(B)ᵀ and dop(B) = op(A)ᵀ·dC; a transposed operand's gradient is the transpose.
  const dA = transposeA
    ? backend.matmul(b, dC, k, n, m, { transposeA: transposeB, transposeB: true })
    : backend.matmul(dC, b, m, n, k, { transposeB: !transposeB });
  const dB = transposeB
    ? backend.matmul(dC, a, n, m, k, { transposeA: true, transposeB: transposeA })
    : backend.matmul(a, dC, k, m, n, { transposeA: !transposeA });
  return { dA, dB };
}

function checkMatmul(backend: TrainingBackend): void {
  const random = rng(1);
  const [m, k, n] = [3, 5, 4];
  for (const transposeA of [false, true]) {
    for (const transposeB of [false, true]) {
      const label = `matmul transposeA=${transposeA} transposeB=${transposeB}`;
      const a = randomF32(m * k, random);
      const b = randomF32(k * n, random);
      const r = randomF32(m * n, random);
      const forward = () => backend.matmul(a, b, m, k, n, { transposeA, transposeB });

      const opA = (i: number, t: number) => (transposeA ? a[t * m + i] : a[i * k + t]);
      const opB = (t: number, j: number) => (transposeB ? b[j * k + t] : b[t * n + j]);
      const product = new Float64Array(m * n);
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          for (let t = 0; t < k; t++) product[i * n + j] += opA(i, t) * opB(t, j);
        }
      }
      assertClose(forward(), product, `${label} product`, 1e-6);

      const { dA, dB } = matmulGradients(backend, a, b, r, [m, k, n], transposeA, transposeB);
      const loss = () => project(r, forward());
      assertClose(dA, numericGradient(a, loss), `${label} dA`);
      assertClose(dB, numericGradient(b, loss), `${label} dB`);
    }
  }
}

function checkLinearBackwardInput(backend: TrainingBackend): void {
  const random = rng(2);
  const [rows, inFeatures, outFeatures] = [3, 6, 5];
  const weightValues = randomF32(outFeatures * inFeatures, random, 0.5);
  const bias = randomF32(outFeatures, random);
  const x = randomF32(rows * inFeatures, random);
  const dy = randomF32(rows * outFeatures, random);

  const weight = backend.prepareWeight(f32Tensor([outFeatures, inFeatures], weightValues), 'f32');
  const loss = () => project(dy, backend.linear(x, rows, weight, bias));
  assertClose(backend.linearBackwardInput(dy, rows, weight), numericGradient(x, loss), 'f32 dx');

  // The bf16 forward also rounds x, which makes it a step function of x; the gradient is defined as
  // bf16(dy)·W with W's bf16 values (PyTorch autocast's product), so compare with that directly.
  const bf16Weight = backend.prepareWeight(f32Tensor([outFeatures, inFeatures], weightValues), 'bf16');
  const roundedWeight = bf16ArrayToF32(f32ArrayToBf16(weightValues));
  const roundedDy = bf16ArrayToF32(f32ArrayToBf16(dy));
  const expected = new Float64Array(rows * inFeatures);
  for (let i = 0; i < rows; i++) {
    for (let o = 0; o < outFeatures; o++) {
      for (let t = 0; t < inFeatures; t++) expected[i * inFeatures + t] += roundedDy[i * outFeatures + o] * roundedWeight[o * inFeatures + t];
    }
  }
  assertClose(backend.linearBackwardInput(dy, rows, bf16Weight), expected, 'bf16 dx', 1e-5);
}

/** The parameter gradients of a linear layer: dBias = sumRows(dy) and dW = dyᵀ·x. */
function checkLinearParameterGradients(backend: TrainingBackend): void {
  const random = rng(3);
  const [rows, inFeatures, outFeatures] = [4, 3, 5];
  const weightValues = randomF32(outFeatures * inFeatures, random, 0.5);
  const bias = randomF32(outFeatures, random);
  const x = randomF32(rows * inFeatures, random);
  const dy = randomF32(rows * outFeatures, random);
  const loss = () => project(dy, backend.linear(x, rows, backend.prepareWeight(f32Tensor([outFeatures, inFeatures], weightValues), 'f32'), bias));

  assertClose(backend.sumRows(dy, rows, outFeatures), numericGradient(bias, loss), 'dBias');
  const dWeight = backend.matmul(dy, x, outFeatures, rows, inFeatures, { transposeA: true });
  assertClose(dWeight, numericGradient(weightValues, loss), 'dW');
}

function checkLayerNormBackward(backend: TrainingBackend): void {
  const random = rng(4);
  const [rows, dim, eps] = [4, 8, 1e-5];
  const x = randomF32(rows * dim, random, 2, 0.5);
  const gamma = randomF32(dim, random, 0.5, 1);
  const beta = randomF32(dim, random, 0.5);
  const dy = randomF32(rows * dim, random);
  const loss = () => project(dy, backend.layerNorm(x, gamma, beta, eps));

  const { dx, dGamma, dBeta } = backend.layerNormBackward(x, gamma, dy, eps);
  assertClose(dx, numericGradient(x, loss), 'dx');
  assertClose(dGamma, numericGradient(gamma, loss), 'dGamma');
  assertClose(dBeta, numericGradient(beta, loss), 'dBeta');
}

function checkGeluBackward(backend: TrainingBackend): void {
  const random = rng(5);
  const x = randomF32(40, random, 4);
  const dy = randomF32(x.length, random);
  const loss = () => project(dy, backend.gelu(x));
  assertClose(backend.geluBackward(x, dy), numericGradient(x, loss), 'dx');
}

function checkAttentionBackward(backend: TrainingBackend): void {
  const random = rng(6);
  const [batch, queryLen, heads, headDim] = [2, 5, 3, 4];
  // Row 1 is left-padded by two: its queries 0 and 1 see no key, so they attend uniformly to all five.
  const mask = Uint8Array.from([1, 1, 1, 1, 1, 0, 0, 1, 1, 1]);
  const fullyMaskedQueries = [
    [1, 0],
    [1, 1],
  ];
  const qkv = randomF32(batch * queryLen * heads * 3 * headDim, random, 1.5);
  const dContext = randomF32(batch * queryLen * heads * headDim, random);
  const args = (): AttentionArgs => ({
    qkv,
    batch,
    queryLen,
    heads,
    headDim,
    keyCache: new Float32Array(batch * heads * queryLen * headDim),
    valueCache: new Float32Array(batch * heads * queryLen * headDim),
    capacity: queryLen,
    pastLen: 0,
    mask,
    slopes: alibiSlopes(heads),
  });
  const loss = () => project(dContext, backend.attention(args()));

  const dQkv = backend.attentionBackward(args(), dContext);
  assertClose(dQkv, numericGradient(qkv, loss), 'dQkv');
  for (const [b, i] of fullyMaskedQueries) {
    for (let h = 0; h < heads; h++) {
      const query = ((b * queryLen + i) * heads + h) * 3 * headDim;
      assert.deepEqual(Array.from(dQkv.subarray(query, query + headDim)), new Array(headDim).fill(0), `dq of fully masked query ${i} in row ${b}, head ${h}`);
    }
  }
}

function checkCrossEntropy(backend: TrainingBackend): void {
  const random = rng(7);
  const vocab = 7;
  const targets = Int32Array.from([3, -100, 0, 6, -100]);
  const rows = targets.length;
  const logits = randomF32(rows * vocab, random, 3);
  // Logits near 1000 overflow exp() unless the row max is subtracted first.
  for (let v = 0; v < vocab; v++) logits[3 * vocab + v] += 1000;
  const countedRows = [0, 2, 3];
  const scale = 1 / countedRows.length;

  const { lossSum, counted, dLogits } = backend.crossEntropy(logits, vocab, targets, scale);
  assert.equal(counted, countedRows.length);

  let expectedLoss = 0;
  for (const r of countedRows) {
    const row = Array.from(logits.subarray(r * vocab, (r + 1) * vocab));
    const max = Math.max(...row);
    expectedLoss += max + Math.log(row.reduce((sum, value) => sum + Math.exp(value - max), 0)) - row[targets[r]];
  }
  assert.ok(Math.abs(lossSum - expectedLoss) <= 1e-5 * expectedLoss, `lossSum ${lossSum}, expected ${expectedLoss}`);

  for (const r of [1, 4]) {
    assert.ok(dLogits.subarray(r * vocab, (r + 1) * vocab).every((value) => value === 0), `ignored row ${r} has a gradient`);
  }
  // The mean loss through the forward op, tokenLogProbs, which takes counted rows only.
  const meanLoss = () => {
    let sum = 0;
    for (const r of countedRows) sum -= backend.tokenLogProbs(logits.subarray(r * vocab, (r + 1) * vocab), vocab, targets.subarray(r, r + 1)).logProbs[0];
    return sum * scale;
  };
  assertClose(dLogits, numericGradient(logits, meanLoss), 'dLogits');

  // In place: the same loss and gradient, written over the logits.
  const overwritten = Float32Array.from(logits);
  const inPlace = backend.crossEntropy(overwritten, vocab, targets, scale, { overwriteLogits: true });
  assert.equal(inPlace.dLogits, overwritten, 'the gradient is written into the logits array');
  assert.equal(inPlace.lossSum, lossSum);
  assert.deepEqual(inPlace.dLogits, dLogits);
}

const ADAMW_OPTIONS = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };

/** One AdamW step on the LoRA adapter of reference `which`, against torch.optim.AdamW's result. */
function checkAdamwAgainstReference(backend: TrainingBackend, which: 'a' | 'b'): void {
  const dir = join(referenceDir, `ref_${which}`);
  const adapter = SafetensorsFile.open(join(dir, 'lora_adapter', 'adapter_model.safetensors'));
  const gradients = SafetensorsFile.open(join(dir, 'lora_grads.safetensors'));
  const afterStep = SafetensorsFile.open(join(dir, 'lora_after_adamw_step.safetensors'));
  try {
    const names = [...adapter.entries.keys()].sort();
    assert.ok(names.length > 0, 'the adapter has tensors');
    assert.deepEqual([...gradients.entries.keys()].sort(), names, 'gradient tensor names');
    assert.deepEqual([...afterStep.entries.keys()].sort(), names, 'after-step tensor names');
    for (const name of names) {
      const param = adapter.read(name, 'f32').data as Float32Array;
      const m = new Float32Array(param.length);
      const v = new Float32Array(param.length);
      backend.adamwStep(param, gradients.read(name, 'f32').data as Float32Array, m, v, { ...ADAMW_OPTIONS, step: 1 });
      const difference = maxAbsDiff(param, afterStep.read(name, 'f32').data as Float32Array);
      assert.ok(difference <= 1e-6, `${name}: max |diff| ${difference} after one step`);
    }
  } finally {
    adapter.close();
    gradients.close();
    afterStep.close();
  }
}

/**
 * Several steps against AdamW written out as documented, so that the bias corrections for step > 1
 * (which the one-step fixture cannot show) are checked too.
 */
function checkAdamwSeveralSteps(backend: TrainingBackend): void {
  const random = rng(8);
  const options = { lr: 1e-2, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1 };
  const param = randomF32(50, random);
  const m = new Float32Array(param.length);
  const v = new Float32Array(param.length);
  const expected = Array.from(param);
  const expectedM = new Array<number>(param.length).fill(0);
  const expectedV = new Array<number>(param.length).fill(0);
  for (let step = 1; step <= 4; step++) {
    const grad = randomF32(param.length, random, step);
    backend.adamwStep(param, grad, m, v, { ...options, step });
    for (let i = 0; i < param.length; i++) {
      const p = expected[i] - options.lr * options.weightDecay * expected[i];
      expectedM[i] = Math.fround(options.beta1 * expectedM[i] + (1 - options.beta1) * grad[i]);
      expectedV[i] = Math.fround(options.beta2 * expectedV[i] + (1 - options.beta2) * grad[i] ** 2);
      const mHat = expectedM[i] / (1 - options.beta1 ** step);
      const vHat = expectedV[i] / (1 - options.beta2 ** step);
      expected[i] = Math.fround(p - (options.lr * mHat) / (Math.sqrt(vHat) + options.eps));
    }
    assertClose(m, expectedM, `m after step ${step}`, 1e-6);
    assertClose(v, expectedV, `v after step ${step}`, 1e-6);
    assert.ok(maxAbsDiff(param, expected) <= 1e-6, `param after step ${step}: max |diff| ${maxAbsDiff(param, expected)}`);
  }
}

export const gradientChecks: readonly GradientCheck[] = [
  { name: 'matmul and its gradients, all four transpose combinations', run: checkMatmul },
  { name: 'linearBackwardInput: f32 against finite differences, bf16 against bf16(dy)·W', run: checkLinearBackwardInput },
  { name: 'linear parameter gradients: sumRows for the bias, matmul for the weight', run: checkLinearParameterGradients },
  { name: 'layerNormBackward: dx, dGamma, dBeta', run: checkLayerNormBackward },
  { name: 'geluBackward', run: checkGeluBackward },
  { name: 'attentionBackward: 3 heads, a left-padded row with fully masked queries', run: checkAttentionBackward },
  { name: 'crossEntropy: loss, counted rows, dLogits, ignored targets, in place', run: checkCrossEntropy },
  { name: 'adamwStep: one step matches torch.optim.AdamW on reference a', run: (backend) => checkAdamwAgainstReference(backend, 'a') },
  { name: 'adamwStep: one step matches torch.optim.AdamW on reference b', run: (backend) => checkAdamwAgainstReference(backend, 'b') },
  { name: 'adamwStep: bias corrections over several steps', run: checkAdamwSeveralSteps },
];

/** (f(x + h) − f(x − h)) / 2h for the entry `index` of `values`, which is left as it was. */
export function centralDifference(values: Float32Array, index: number, step: number, lossValue: () => number): number {
  const original = values[index];
  values[index] = original + step;
  const up = lossValue();
  values[index] = original - step;
  const down = lossValue();
  values[index] = original;
  return (up - down) / (2 * step);
}

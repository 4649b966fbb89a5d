/**
 * The native backend's GradientOps: the shared finite-difference checks (test/helpers/gradient-checks.ts)
 * run on it, then every method is compared with the TypeScript backend on random inputs (odd sizes,
 * padded batches with fully masked query rows, non-power-of-two head counts, bf16 weights, slab
 * boundaries of the packed weight).
 *
 * Tolerances, relative to |expected| + RMS(expected) as in native.test.ts: 1e-5 for float32 results
 * (the reference sums in float64, the native kernels in float32 blocks or oneDNN's order); the loss
 * sum and AdamW are held tighter.
 */
import assert from 'node:assert/strict';
import type { AttentionArgs, Weight } from '../../../src/engine/backend.js';
import { TypeScriptBackend } from '../../../src/engine/backends/typescript.js';
import { NativeWeight } from '../../../src/engine/backends/native.js';
import { nativeTest } from '../../helpers/native-test.js';
import type { Tensor } from '../../../src/engine/tensor.js';
import { gradientChecks } from '../../helpers/gradient-checks.js';
import { rng, randomF32, assertClose } from '../../helpers/numeric.js';

const reference = new TypeScriptBackend();

function f32Tensor(shape: [number, number], data: Float32Array): Tensor {
  return { dtype: 'f32', shape, data };
}

const RTOL = 1e-5;

for (const { name, run } of gradientChecks) {
  nativeTest(`finite differences: ${name}`, (backend) => run(backend));
}

nativeTest('matmul matches the reference: all transpose flags, tiny LoRA ranks and odd sizes', (backend) => {
  const random = rng(11);
  const shapes: Array<[number, number, number]> = [
    [1, 1, 1],
    [3, 5, 7],
    [512, 1024, 4], // x · Aᵀ for a rank-4 LoRA at BLOOM-560m training shape
    [4, 512, 1024], // dA = dHᵀ · x
    [1024, 512, 16], // dB = dyᵀ · h
    [17, 300, 33],
    [64, 1, 9],
  ];
  for (const [m, k, n] of shapes) {
    const a = randomF32(m * k, random);
    const b = randomF32(k * n, random);
    for (const transposeA of [false, true]) {
      for (const transposeB of [false, true]) {
        const options = { transposeA, transposeB };
        assertClose(backend.matmul(a, b, m, k, n, options), reference.matmul(a, b, m, k, n, options), RTOL, `m=${m} k=${k} n=${n} tA=${transposeA} tB=${transposeB}`);
      }
    }
  }
  // k = 0: a sum over nothing.
  assert.deepEqual([...backend.matmul(new Float32Array(0), new Float32Array(0), 2, 0, 3)], [0, 0, 0, 0, 0, 0]);
  assert.equal(backend.matmul(new Float32Array(0), new Float32Array(12), 0, 4, 3).length, 0);
});

nativeTest('linearBackwardInput matches the reference on f32 and bf16 packed weights, across slabs', (backend) => {
  const random = rng(12);
  // [rows, in, out]: the last ones span several 4 MB slabs of the unpacked weight, with a ragged tail.
  const shapes: Array<[number, number, number]> = [
    [1, 3, 5],
    [7, 37, 130],
    [9, 64, 65],
    [33, 1024, 192],
    [5, 1024, 2500],
    [3, 4096, 300],
    [6, 96, 12001],
  ];
  for (const dtype of ['f32', 'bf16'] as const) {
    for (const [rows, k, n] of shapes) {
      const tensor = f32Tensor([n, k], randomF32(n * k, random, 0.5));
      const nw = backend.prepareWeight(tensor, dtype);
      const rw = reference.prepareWeight(tensor, dtype);
      const dy = randomF32(rows * n, random);
      assertClose(backend.linearBackwardInput(dy, rows, nw), reference.linearBackwardInput(dy, rows, rw), RTOL, `${dtype} rows=${rows} in=${k} out=${n}`);
    }
  }
});

nativeTest('sumRows matches the reference', (backend) => {
  const random = rng(13);
  for (const [rows, cols] of [[1, 1], [1, 5], [7, 3], [512, 1024], [513, 4096], [40000, 1], [3, 0], [0, 4]]) {
    const dy = randomF32(rows * cols, random);
    assertClose(backend.sumRows(dy, rows, cols), reference.sumRows(dy, rows, cols), RTOL, `rows=${rows} cols=${cols}`);
  }
});

nativeTest('layerNormBackward matches the reference, including rows with a large mean', (backend) => {
  const random = rng(14);
  for (const [rows, dim, offset] of [[1, 1, 0], [3, 37, 0], [512, 1024, 0], [5, 1024, 300], [2, 4099, -50], [7, 3, 0]]) {
    const x = randomF32(rows * dim, random, 2, offset);
    const gamma = randomF32(dim, random, 1, 1);
    const dy = randomF32(rows * dim, random);
    const got = backend.layerNormBackward(x, gamma, dy, 1e-5);
    const want = reference.layerNormBackward(x, gamma, dy, 1e-5);
    const label = `rows=${rows} dim=${dim} offset=${offset}`;
    assertClose(got.dx, want.dx, RTOL, `${label} dx`);
    assertClose(got.dGamma, want.dGamma, RTOL, `${label} dGamma`);
    assertClose(got.dBeta, want.dBeta, RTOL, `${label} dBeta`);
  }
});

nativeTest('geluBackward matches the reference over a wide range', (backend) => {
  const random = rng(15);
  for (const n of [1, 15, 1001, 100003]) {
    const x = randomF32(n, random, 8);
    const dy = randomF32(n, random);
    assertClose(backend.geluBackward(x, dy), reference.geluBackward(x, dy), RTOL, `n=${n}`, 1e-6);
  }
  const special = Float32Array.from([0, -0, 1e-30, -1e-30, 1e-3, -1e-3, -0.75, -5, -9, 20, -20, -30, 100, -100, 1e10, -1e10, 1e15, -1e15]);
  const ones = new Float32Array(special.length).fill(1);
  assertClose(backend.geluBackward(special, ones), reference.geluBackward(special, ones), RTOL, 'special', 1e-6);
});

interface AttentionCase {
  readonly name: string;
  readonly batch: number;
  readonly heads: number;
  readonly headDim: number;
  readonly queryLen: number;
  readonly mask: (b: number, j: number) => number;
}

const attentionCases: AttentionCase[] = [
  { name: 'one sequence, no padding', batch: 1, heads: 2, headDim: 8, queryLen: 6, mask: () => 1 },
  // Left padding: the leading queries of each row see no key and attend uniformly over all keys.
  { name: 'left padding, odd sizes, 3 heads', batch: 3, heads: 3, headDim: 5, queryLen: 7, mask: (b, j) => (j >= 2 * b ? 1 : 0) },
  // Right padding and a hole in the middle; more than one 64-key tile; 5 heads.
  { name: 'long rows, right padding and a hole', batch: 2, heads: 5, headDim: 64, queryLen: 70, mask: (b, j) => (b === 1 && (j > 60 || j === 10) ? 0 : 1) },
  // A batch row that is all padding: dQ = dK = 0, dV gets the uniform weights.
  { name: 'fully masked batch row', batch: 2, heads: 2, headDim: 16, queryLen: 5, mask: (b) => (b === 0 ? 0 : 1) },
  { name: 'headDim 24, a group tail of queries', batch: 1, heads: 1, headDim: 24, queryLen: 11, mask: (_, j) => (j < 3 ? 0 : 1) },
  { name: 'headDim 128, 7 heads, mixed padding', batch: 3, heads: 7, headDim: 128, queryLen: 33, mask: (b, j) => (b === 0 ? (j < 9 ? 0 : 1) : b === 1 ? (j > 20 ? 0 : 1) : 1) },
];

function attentionArgs(c: AttentionCase, random: () => number): AttentionArgs {
  const mask = new Uint8Array(c.batch * c.queryLen);
  for (let b = 0; b < c.batch; b++) for (let j = 0; j < c.queryLen; j++) mask[b * c.queryLen + j] = c.mask(b, j);
  const cache = c.batch * c.heads * c.queryLen * c.headDim;
  return {
    qkv: randomF32(c.batch * c.queryLen * c.heads * 3 * c.headDim, random, 2),
    batch: c.batch,
    queryLen: c.queryLen,
    heads: c.heads,
    headDim: c.headDim,
    keyCache: new Float32Array(cache),
    valueCache: new Float32Array(cache),
    capacity: c.queryLen,
    pastLen: 0,
    mask,
    slopes: Float32Array.from({ length: c.heads }, (_, h) => 2 ** (-(8 * (h + 1)) / c.heads)),
  };
}

for (const c of attentionCases) {
  nativeTest(`attentionBackward matches the reference: ${c.name}`, (backend) => {
    const random = rng(c.queryLen * 31 + c.heads);
    const args = attentionArgs(c, random);
    const dContext = randomF32(c.batch * c.queryLen * c.heads * c.headDim, random);
    const got = backend.attentionBackward({ ...args, keyCache: new Float32Array(args.keyCache.length), valueCache: new Float32Array(args.valueCache.length) }, dContext);
    const want = reference.attentionBackward(args, dContext);
    assertClose(got, want, RTOL, c.name);
  });
}

nativeTest('attentionBackward: a fully masked row gives dQ = dK = 0 and dV = Σ dContext / T', (backend) => {
  const c: AttentionCase = { name: 'all padding', batch: 1, heads: 2, headDim: 4, queryLen: 3, mask: () => 0 };
  const random = rng(16);
  const args = attentionArgs(c, random);
  const dContext = randomF32(c.queryLen * c.heads * c.headDim, random);
  const dQkv = backend.attentionBackward(args, dContext);
  for (let i = 0; i < c.queryLen; i++) {
    for (let h = 0; h < c.heads; h++) {
      const base = (i * c.heads + h) * 3 * c.headDim;
      for (let d = 0; d < c.headDim; d++) {
        assert.equal(dQkv[base + d], 0);
        assert.equal(dQkv[base + c.headDim + d], 0);
        let sum = 0;
        for (let t = 0; t < c.queryLen; t++) sum += dContext[(t * c.heads + h) * c.headDim + d];
        assert.ok(Math.abs(dQkv[base + 2 * c.headDim + d] - sum / c.queryLen) < 1e-6);
      }
    }
  }
});

nativeTest('crossEntropy matches the reference, with ignored rows and a BLOOM-sized vocabulary', (backend) => {
  const random = rng(17);
  for (const [rows, vocab] of [[1, 1], [7, 1000], [3, 17], [3, 250880]]) {
    const logits = randomF32(rows * vocab, random, 10);
    const targets = Int32Array.from({ length: rows }, (_, r) => (r === 1 ? -100 : Math.floor(random() * vocab)));
    const scale = 1 / 3;
    const got = backend.crossEntropy(logits, vocab, targets, scale);
    const want = reference.crossEntropy(logits, vocab, targets, scale);
    const label = `rows=${rows} vocab=${vocab}`;
    assert.equal(got.counted, want.counted, `${label} counted`);
    assert.ok(Math.abs(got.lossSum - want.lossSum) <= 1e-6 * (1 + Math.abs(want.lossSum)), `${label} loss ${got.lossSum} vs ${want.lossSum}`);
    assertClose(got.dLogits, want.dLogits, RTOL, `${label} dLogits`, 1e-9);
  }
  const none = backend.crossEntropy(new Float32Array(6), 3, Int32Array.of(-100, -100), 1);
  assert.deepEqual([none.lossSum, none.counted, ...none.dLogits], [0, 0, 0, 0, 0, 0, 0, 0]);
});

nativeTest('adamwStep matches the reference over several steps', (backend) => {
  const random = rng(18);
  for (const n of [1, 13, 70001]) {
    const start = randomF32(n, random);
    const state = { native: [Float32Array.from(start), new Float32Array(n), new Float32Array(n)], reference: [Float32Array.from(start), new Float32Array(n), new Float32Array(n)] };
    for (let step = 1; step <= 5; step++) {
      const grad = randomF32(n, random, 0.1);
      const options = { step, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };
      backend.adamwStep(state.native[0], grad, state.native[1], state.native[2], options);
      reference.adamwStep(state.reference[0], grad, state.reference[1], state.reference[2], options);
    }
    assertClose(state.native[0], state.reference[0], 1e-6, `n=${n} param`);
    assertClose(state.native[1], state.reference[1], 1e-6, `n=${n} m`);
    assertClose(state.native[2], state.reference[2], 1e-6, `n=${n} v`);
  }
});

nativeTest('gradient ops reject invalid arguments with TypeError or RangeError naming the argument', (backend) => {
  const throwsNaming = (fn: () => unknown, kind: typeof TypeError | typeof RangeError, name: string) =>
    assert.throws(fn, (error: unknown) => error instanceof kind && (error as Error).message.includes(name), name);
  const f32 = (n: number) => new Float32Array(n);
  const weight = backend.prepareWeight(f32Tensor([4, 3], f32(12)), 'f32');
  const foreign: Weight = reference.prepareWeight(f32Tensor([4, 3], f32(12)), 'f32');

  throwsNaming(() => backend.matmul(f32(5), f32(6), 2, 3, 2), RangeError, 'a');
  throwsNaming(() => backend.matmul(f32(6), f32(5), 2, 3, 2), RangeError, 'b');
  throwsNaming(() => backend.matmul(f32(6), f32(6), 2.5, 3, 2), RangeError, 'm');
  throwsNaming(() => backend.matmul(f32(6), f32(6), 2, 3, -2), RangeError, 'n');
  throwsNaming(() => backend.matmul(new Float64Array(6) as unknown as Float32Array, f32(6), 2, 3, 2), TypeError, 'a');
  throwsNaming(() => backend.matmul(f32(6), f32(6), 2, 3, 2, { transposeA: 1 as unknown as boolean }), TypeError, 'transposeA');
  throwsNaming(() => backend.linearBackwardInput(f32(7), 2, weight), RangeError, 'dy');
  throwsNaming(() => backend.linearBackwardInput(f32(8), 2, foreign), TypeError, 'weight');
  throwsNaming(() => backend.linearBackwardInput(f32(8), -1, weight), RangeError, 'rows');
  throwsNaming(() => backend.sumRows(f32(7), 2, 4), RangeError, 'dy');
  throwsNaming(() => backend.sumRows(f32(8), 2, NaN), RangeError, 'cols');
  throwsNaming(() => backend.layerNormBackward(f32(5), f32(2), f32(5), 1e-5), RangeError, 'x');
  throwsNaming(() => backend.layerNormBackward(f32(4), f32(2), f32(3), 1e-5), RangeError, 'dy');
  throwsNaming(() => backend.layerNormBackward(f32(4), f32(0), f32(4), 1e-5), RangeError, 'gamma');
  throwsNaming(() => backend.layerNormBackward(f32(4), f32(2), f32(4), -1), RangeError, 'eps');
  throwsNaming(() => backend.geluBackward(f32(4), f32(3)), RangeError, 'dy');
  throwsNaming(() => backend.crossEntropy(f32(10), 5, Int32Array.of(0, 5), 1), RangeError, 'targets[1]');
  throwsNaming(() => backend.crossEntropy(f32(10), 5, Int32Array.of(-1, 0), 1), RangeError, 'targets[0]');
  throwsNaming(() => backend.crossEntropy(f32(9), 5, Int32Array.of(0, 1), 1), RangeError, 'logits');
  throwsNaming(() => backend.crossEntropy(f32(10), 5, Int32Array.of(0, 1), Infinity), RangeError, 'scale');
  throwsNaming(() => backend.crossEntropy(f32(10), 5, [0, 1] as unknown as Int32Array, 1), TypeError, 'targets');

  const options = { step: 1, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };
  throwsNaming(() => backend.adamwStep(f32(4), f32(3), f32(4), f32(4), options), RangeError, 'grad');
  throwsNaming(() => backend.adamwStep(f32(4), f32(4), f32(4), f32(5), options), RangeError, 'v');
  throwsNaming(() => backend.adamwStep(f32(4), f32(4), f32(4), f32(4), { ...options, step: 0 }), RangeError, 'step');
  throwsNaming(() => backend.adamwStep(f32(4), f32(4), f32(4), f32(4), { ...options, beta2: 1 }), RangeError, 'beta2');
  throwsNaming(() => backend.adamwStep(f32(4), f32(4), f32(4), f32(4), { ...options, lr: NaN }), RangeError, 'lr');
  throwsNaming(() => backend.adamwStep(f32(4), f32(4), f32(4), f32(4), { ...options, eps: '1' as unknown as number }), TypeError, 'eps');
  const shared = f32(8);
  throwsNaming(() => backend.adamwStep(shared.subarray(0, 4), f32(4), shared.subarray(2, 6), f32(4), options), RangeError, 'share memory');

  const c: AttentionCase = { name: 'small', batch: 1, heads: 1, headDim: 4, queryLen: 2, mask: () => 1 };
  const args = attentionArgs(c, rng(19));
  const dContext = f32(8);
  assert.equal(backend.attentionBackward(args, dContext).length, args.qkv.length);
  throwsNaming(() => backend.attentionBackward({ ...args, pastLen: 1 }, dContext), RangeError, 'pastLen');
  throwsNaming(() => backend.attentionBackward({ ...args, capacity: 3 }, dContext), RangeError, 'capacity');
  throwsNaming(() => backend.attentionBackward(args, f32(7)), RangeError, 'dContext');
  throwsNaming(() => backend.attentionBackward({ ...args, mask: Uint8Array.of(1, 2) }, dContext), RangeError, 'mask[1]');
  throwsNaming(() => backend.attentionBackward({ ...args, mask: Uint8Array.of(1) }, dContext), RangeError, 'mask');
  throwsNaming(() => backend.attentionBackward({ ...args, slopes: f32(2) }, dContext), RangeError, 'slopes');
  throwsNaming(() => backend.attentionBackward({ ...args, qkv: f32(23) }, dContext), RangeError, 'qkv');
  throwsNaming(() => backend.attentionBackward({ ...args, keyCache: args.qkv.subarray(0, 8) }, dContext), RangeError, 'share memory');
});

nativeTest('the addon itself rejects bad gradient-op arguments instead of crashing', (backend) => {
  // Bypasses the TypeScript checks: the addon's own checks must hold for direct callers.
  const addon = (backend as unknown as { addon: Record<string, (...args: unknown[]) => unknown> }).addon;
  const handle = (backend.prepareWeight(f32Tensor([4, 3], new Float32Array(12)), 'bf16') as NativeWeight).handle;
  const f32 = (n: number) => new Float32Array(n);
  const shared = f32(16);
  const cases: Array<[string, unknown[]]> = [
    ['matmul', [f32(5), f32(6), 2, 3, 2, false, false, f32(4)]],
    ['matmul', [f32(6), f32(6), 2, 3, 2, false, false, f32(5)]],
    ['matmul', [f32(6), f32(6), 2, 3, 2, 0, false, f32(4)]],
    ['matmul', [f32(6), f32(6), 0, 3, 2, false, false, f32(0)]],
    ['matmul', [shared.subarray(0, 6), f32(6), 2, 3, 2, false, false, shared.subarray(4, 8)]],
    ['linearBackwardInput', [f32(8), 2, {}, f32(6)]],
    ['linearBackwardInput', [f32(8), 2, handle, f32(5)]],
    ['linearBackwardInput', [f32(7), 2, handle, f32(6)]],
    ['sumRows', [f32(8), 2, 4, f32(3)]],
    ['sumRows', [f32(8), 2 ** 40, 2 ** 40, f32(3)]],
    ['layerNormBackward', [f32(4), f32(2), f32(4), 1e-5, f32(4), f32(2), f32(3)]],
    ['layerNormBackward', [f32(4), f32(2), f32(4), NaN, f32(4), f32(2), f32(2)]],
    ['layerNormBackward', [f32(4), f32(0), f32(4), 1e-5, f32(4), f32(0), f32(0)]],
    ['geluBackward', [f32(4), f32(4), f32(3)]],
    ['attentionBackward', [f32(24), 1, 2, 1, 4, f32(8), f32(8), 1, new Uint8Array(2), f32(1), f32(8), f32(24)]],
    ['attentionBackward', [f32(24), 1, 2, 1, 4, f32(8), f32(8), 2, new Uint8Array(2), f32(1), f32(7), f32(24)]],
    ['attentionBackward', [f32(24), 1, 2, 1, 4, f32(8), f32(8), 2, new Uint8Array(2), f32(1), f32(8), f32(23)]],
    ['crossEntropy', [f32(10), 5, Int32Array.of(0, 5), 1, f32(10)]],
    ['crossEntropy', [f32(10), 5, Int32Array.of(0, 1), 1, f32(9)]],
    ['crossEntropy', [f32(10), 5, Int32Array.of(0, 1), NaN, f32(10)]],
    ['adamwStep', [f32(4), f32(4), f32(4), f32(3), 1, 1e-3, 0.9, 0.999, 1e-8, 0]],
    ['adamwStep', [f32(4), f32(4), f32(4), f32(4), 0, 1e-3, 0.9, 0.999, 1e-8, 0]],
    ['adamwStep', [shared.subarray(0, 4), f32(4), shared.subarray(0, 4), f32(4), 1, 1e-3, 0.9, 0.999, 1e-8, 0]],
  ];
  cases.forEach(([name, args], index) => {
    assert.throws(() => addon[name](...args), (error: unknown) => error instanceof TypeError || error instanceof RangeError, `case ${index}: ${name}`);
  });
});

nativeTest('empty inputs return empty outputs', (backend) => {
  const weight = backend.prepareWeight(f32Tensor([4, 3], new Float32Array(12)), 'bf16');
  assert.equal(backend.linearBackwardInput(new Float32Array(0), 0, weight).length, 0);
  assert.equal(backend.geluBackward(new Float32Array(0), new Float32Array(0)).length, 0);
  assert.equal(backend.layerNormBackward(new Float32Array(0), new Float32Array(3), new Float32Array(0), 1e-5).dGamma.length, 3);
  assert.equal(backend.crossEntropy(new Float32Array(0), 5, new Int32Array(0), 1).counted, 0);
  assert.equal(backend.sumRows(new Float32Array(0), 0, 3).length, 3);
  backend.adamwStep(new Float32Array(0), new Float32Array(0), new Float32Array(0), new Float32Array(0), { step: 1, lr: 1, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0 });
});

/**
 * The native backend against the TypeScript reference, op by op, on random inputs.
 *
 * Tolerances: float32 results must agree to 1e-5 relative (measured against the RMS of the
 * expected values, so cancelling dot products are not held to an impossible bound). bf16 linear
 * uses 1e-4: both backends round x and W to bf16 identically and bf16 products are exact in
 * float32, so only the summation order differs (float32 blocks in oneDNN or vdpbf16ps against
 * float64 in the reference); the looser bound leaves room for longer rows. Gathers, conversions
 * and the residual add must be bit-exact.
 */
import assert from 'node:assert/strict';
import type { Backend, Weight } from '../../../src/engine/backend.js';
import { TypeScriptBackend } from '../../../src/engine/backends/typescript.js';
import { NativeWeight } from '../../../src/engine/backends/native.js';
import { nativeTest } from '../../helpers/native-test.js';
import { f32ArrayToBf16 } from '../../../src/engine/dtype.js';
import type { Tensor } from '../../../src/engine/tensor.js';
import { rng, randomF32, assertClose } from '../../helpers/numeric.js';

const reference = new TypeScriptBackend();

function assertBitsEqual(actual: Float32Array, expected: Float32Array, label: string): void {
  assert.deepEqual(new Uint32Array(actual.buffer, actual.byteOffset, actual.length), new Uint32Array(expected.buffer, expected.byteOffset, expected.length), label);
}

function f32Tensor(shape: [number, number], data: Float32Array): Tensor {
  return { dtype: 'f32', shape, data };
}

/** The same checkpoint tensor in each storage type the loaders produce. */
function tensorAs(dtype: 'f32' | 'bf16' | 'f16', shape: [number, number], values: Float32Array): Tensor {
  if (dtype === 'f32') return f32Tensor(shape, values);
  if (dtype === 'bf16') return { dtype, shape, data: f32ArrayToBf16(values) };
  // Random halves: sign, exponent 10..19 (|v| in [2^-5, 2^5)), and a random mantissa.
  const random = rng(values.length);
  const bits = new Uint16Array(values.length);
  for (let i = 0; i < bits.length; i++) bits[i] = (random() < 0.5 ? 0x8000 : 0) | ((10 + Math.floor(random() * 10)) << 10) | Math.floor(random() * 1024);
  return { dtype, shape, data: bits };
}

function prepareBoth(tensor: Tensor, dtype: 'f32' | 'bf16', backend: Backend): [Weight, Weight] {
  return [backend.prepareWeight(tensor, dtype), reference.prepareWeight(tensor, dtype)];
}

// Row counts cover the streaming small-batch kernel (up to 8 rows in f32, 32 in bf16) and
// oneDNN's matmul (more), on both sides of each threshold.
const linearShapes: Array<[rows: number, inFeatures: number, outFeatures: number]> = [
  [1, 37, 5],
  [1, 1024, 192],
  [3, 64, 64],
  [5, 100, 130],
  [8, 48, 200],
  [9, 257, 70],
  [32, 1024, 96],
  [33, 200, 129],
  [130, 64, 65],
];

for (const dtype of ['f32', 'bf16'] as const) {
  nativeTest(`linear ${dtype} matches the reference (both kernels, odd sizes, bias or not)`, (backend) => {
    const random = rng(dtype === 'f32' ? 1 : 2);
    for (const [rows, k, n] of linearShapes) {
      const [nw, rw] = prepareBoth(f32Tensor([n, k], randomF32(n * k, random, 0.5)), dtype, backend);
      const x = randomF32(rows * k, random);
      for (const bias of [null, randomF32(n, random)]) {
        const label = `${dtype} rows=${rows} k=${k} n=${n} bias=${bias !== null}`;
        assertClose(backend.linear(x, rows, nw, bias), reference.linear(x, rows, rw, bias), dtype === 'f32' ? 1e-5 : 1e-4, label);
      }
    }
  });
}

for (const source of ['f32', 'bf16', 'f16'] as const) {
  for (const dtype of ['f32', 'bf16'] as const) {
    nativeTest(`prepareWeight converts ${source} data to ${dtype} exactly as the reference does`, (backend) => {
      const random = rng(7);
      const [n, k] = [67, 45];
      const values = randomF32(n * k, random, 3);
      if (source === 'f32') {
        // Rounding edge cases: ties to even (down and up), NaN, infinities, a float32 denormal.
        new Uint32Array(values.buffer).set([0x3f808000, 0x3f818000, 0x7fc00001, 0x7f800000, 0xff800000, 0x00000123, 0x80000000]);
      }
      const tensor = tensorAs(source, [n, k], values);
      const [nw, rw] = prepareBoth(tensor, dtype, backend);
      const ids = Int32Array.from({ length: n }, (_, i) => n - 1 - i);
      assertBitsEqual(backend.embedding(nw, ids), reference.embedding(rw, ids), `${source} -> ${dtype} values`);
    });
  }
}

nativeTest('one packed weight serves both embedding and linear (tied lm_head)', (backend) => {
  const random = rng(3);
  const [vocab, hidden] = [300, 64];
  for (const dtype of ['f32', 'bf16'] as const) {
    const [nw, rw] = prepareBoth(f32Tensor([vocab, hidden], randomF32(vocab * hidden, random)), dtype, backend);
    const ids = Int32Array.from({ length: 50 }, () => Math.floor(random() * vocab));
    ids[0] = 0;
    ids[1] = vocab - 1;
    const embedded = backend.embedding(nw, ids);
    assertBitsEqual(embedded, reference.embedding(rw, ids), `${dtype} embedding`);
    assertClose(backend.linear(embedded, ids.length, nw, null), reference.linear(embedded, ids.length, rw, null), 1e-4, `${dtype} logits`);
  }
});

nativeTest('prepared weights report their packed size', (backend) => {
  const weight = backend.prepareWeight(f32Tensor([130, 100], new Float32Array(13000)), 'bf16');
  assert.ok(weight instanceof NativeWeight);
  // Packing pads to whole blocks but stays within one block of each dimension.
  assert.ok(weight.bytes >= 130 * 100 * 2 && weight.bytes <= 192 * 128 * 2, `bytes ${weight.bytes}`);
});

nativeTest('layerNorm matches the reference, including rows with a large mean', (backend) => {
  const random = rng(4);
  for (const [rows, dim, offset] of [[1, 1, 0], [3, 37, 0], [64, 1024, 0], [5, 1024, 300], [2, 4099, -50]]) {
    const x = randomF32(rows * dim, random, 2, offset);
    const gamma = randomF32(dim, random, 1, 1);
    const beta = randomF32(dim, random, 0.5);
    assertClose(backend.layerNorm(x, gamma, beta, 1e-5), reference.layerNorm(x, gamma, beta, 1e-5), 1e-6, `rows=${rows} dim=${dim} offset=${offset}`);
  }
});

nativeTest('gelu matches the reference over a wide range and on special values', (backend) => {
  const random = rng(5);
  for (const n of [1, 15, 1001, 100003]) {
    const x = randomF32(n, random, 8);
    assertClose(backend.gelu(x), reference.gelu(x), 1e-5, `n=${n}`, 1e-6);
  }
  const special = Float32Array.from([0, -0, 1e-30, -1e-30, 1e-3, -1e-3, 20, -20, 100, -100, 3e38, -3e38]);
  assertClose(backend.gelu(special), reference.gelu(special), 1e-5, 'special', 1e-6);
  // As in the reference: gelu(inf) = inf, and gelu(-inf) = -inf * 0 = NaN, as is gelu(NaN).
  const [inf, negInf, nan] = backend.gelu(Float32Array.of(Infinity, -Infinity, NaN));
  assert.equal(inf, Infinity);
  assert.ok(Number.isNaN(negInf) && Number.isNaN(nan));
});

nativeTest('addInPlace adds exactly', (backend) => {
  const random = rng(6);
  for (const n of [1, 17, 70001]) {
    const a = randomF32(n, random);
    const b = randomF32(n, random);
    const expected = Float32Array.from(a);
    reference.addInPlace(expected, b);
    backend.addInPlace(a, b);
    assertBitsEqual(a, expected, `n=${n}`);
  }
});

interface AttentionCase {
  readonly name: string;
  readonly batch: number;
  readonly heads: number;
  readonly headDim: number;
  readonly capacity: number;
  /** Calls made in order on the same cache: [pastLen, queryLen]. */
  readonly steps: ReadonlyArray<readonly [number, number]>;
  /** Mask over the whole capacity per batch row; each step passes its [batch, pastLen + queryLen] prefix. */
  readonly mask: (b: number, j: number) => number;
}

const attentionCases: AttentionCase[] = [
  { name: 'one sequence, no padding', batch: 1, heads: 2, headDim: 8, capacity: 6, steps: [[0, 6]], mask: () => 1 },
  // Left padding gives query rows with no visible key: uniform weights over every key.
  { name: 'left padding, odd sizes', batch: 3, heads: 3, headDim: 5, capacity: 9, steps: [[0, 7]], mask: (b, j) => (j >= 2 * b ? 1 : 0) },
  // More than one 32-query block, 5 heads, right padding and a hole in the middle.
  { name: 'long block, right padding', batch: 2, heads: 5, headDim: 64, capacity: 80, steps: [[0, 70]], mask: (b, j) => (b === 1 && (j > 60 || j === 10) ? 0 : 1) },
  // A batch row that is all padding.
  { name: 'fully masked row', batch: 2, heads: 2, headDim: 16, capacity: 5, steps: [[0, 5]], mask: (b) => (b === 0 ? 0 : 1) },
  // Prefill then decoding through the KV cache, with left padding in the past.
  { name: 'kv cache: prefill, then one token at a time', batch: 2, heads: 4, headDim: 32, capacity: 12, steps: [[0, 8], [8, 1], [9, 1], [10, 1]], mask: (b, j) => (b === 1 && j < 3 ? 0 : 1) },
  { name: 'kv cache: chunk of 3 after a past of 40', batch: 1, heads: 16, headDim: 64, capacity: 50, steps: [[0, 40], [40, 3]], mask: (_, j) => (j < 5 ? 0 : 1) },
  // Fewer heads than threads: the query blocks of one head are spread over the threads.
  { name: 'one head, blocks spread over threads, headDim 24', batch: 1, heads: 1, headDim: 24, capacity: 100, steps: [[0, 70], [70, 9]], mask: () => 1 },
  { name: 'headDim 128', batch: 1, heads: 2, headDim: 128, capacity: 9, steps: [[0, 9]], mask: (_, j) => (j === 3 ? 0 : 1) },
];

for (const c of attentionCases) {
  nativeTest(`attention matches the reference: ${c.name}`, (backend) => {
    const random = rng(c.capacity * 31 + c.heads);
    const cacheSize = c.batch * c.heads * c.capacity * c.headDim;
    const caches = { native: [new Float32Array(cacheSize), new Float32Array(cacheSize)], reference: [new Float32Array(cacheSize), new Float32Array(cacheSize)] };
    const slopes = Float32Array.from({ length: c.heads }, (_, h) => 2 ** (-(8 * (h + 1)) / c.heads));
    for (const [pastLen, queryLen] of c.steps) {
      const keyLen = pastLen + queryLen;
      const mask = new Uint8Array(c.batch * keyLen);
      for (let b = 0; b < c.batch; b++) for (let j = 0; j < keyLen; j++) mask[b * keyLen + j] = c.mask(b, j);
      const qkv = randomF32(c.batch * queryLen * c.heads * 3 * c.headDim, random, 2);
      const common = { qkv, batch: c.batch, queryLen, heads: c.heads, headDim: c.headDim, capacity: c.capacity, pastLen, mask, slopes };
      const got = backend.attention({ ...common, keyCache: caches.native[0], valueCache: caches.native[1] });
      const want = reference.attention({ ...common, keyCache: caches.reference[0], valueCache: caches.reference[1] });
      assertClose(got, want, 1e-5, `${c.name} step pastLen=${pastLen}`);
      assertBitsEqual(caches.native[0], caches.reference[0], 'key cache');
      assertBitsEqual(caches.native[1], caches.reference[1], 'value cache');
    }
  });
}

nativeTest('tokenLogProbs matches the reference, with first-index argmax on ties', (backend) => {
  const random = rng(8);
  for (const [rows, vocab] of [[1, 1], [7, 1000], [3, 17], [2, 250880]]) {
    const logits = randomF32(rows * vocab, random, 10);
    const targets = Int32Array.from({ length: rows }, () => Math.floor(random() * vocab));
    const got = backend.tokenLogProbs(logits, vocab, targets);
    const want = reference.tokenLogProbs(logits, vocab, targets);
    assertClose(got.logProbs, want.logProbs, 1e-6, `rows=${rows} vocab=${vocab}`, 1e-6);
    assert.deepEqual(got.isGreedy, want.isGreedy);
  }
  // Row 0: the target is the first of two maxima (greedy); row 1: the second (not greedy);
  // row 2: the target is the unique argmax.
  const logits = Float32Array.from([1, 5, 2, 5, 0, 1, 5, 2, 5, 0, 9, 1, 2, 3, 4]);
  const result = backend.tokenLogProbs(logits, 5, Int32Array.from([1, 3, 0]));
  assert.deepEqual([...result.isGreedy], [1, 0, 1]);
  assertClose(result.logProbs, reference.tokenLogProbs(logits, 5, Int32Array.from([1, 3, 0])).logProbs, 1e-6, 'ties');
});

nativeTest('invalid arguments throw TypeError or RangeError naming the argument', (backend) => {
  const weight = backend.prepareWeight(f32Tensor([4, 3], new Float32Array(12)), 'f32');
  const foreign = reference.prepareWeight(f32Tensor([4, 3], new Float32Array(12)), 'f32');
  const throwsNaming = (fn: () => unknown, kind: typeof TypeError | typeof RangeError, name: string) =>
    assert.throws(fn, (error: unknown) => error instanceof kind && (error as Error).message.includes(name));

  throwsNaming(() => backend.prepareWeight(f32Tensor([4, 3], new Float32Array(11)), 'f32'), RangeError, 'tensor.data');
  throwsNaming(() => backend.prepareWeight({ dtype: 'bf16', shape: [2, 2], data: new Float32Array(4) }, 'f32'), TypeError, 'tensor.data');
  throwsNaming(() => backend.prepareWeight({ dtype: 'f32', shape: [2, 2, 1], data: new Float32Array(4) }, 'f32'), RangeError, '2-D');
  throwsNaming(() => backend.prepareWeight(f32Tensor([0, 3], new Float32Array(0)), 'f32'), RangeError, 'shape[0]');
  throwsNaming(() => backend.prepareWeight(f32Tensor([2, 2], new Float32Array(4)), 'f16' as 'f32'), TypeError, 'dtype');
  throwsNaming(() => backend.linear(new Float32Array(5), 2, weight, null), RangeError, 'x');
  throwsNaming(() => backend.linear(new Float32Array(6), 1.5, weight, null), RangeError, 'rows');
  throwsNaming(() => backend.linear(new Float32Array(6), 2, weight, new Float32Array(3)), RangeError, 'bias');
  throwsNaming(() => backend.linear(new Float32Array(6), 2, foreign, null), TypeError, 'weight');
  throwsNaming(() => backend.linear(new Float64Array(6) as unknown as Float32Array, 2, weight, null), TypeError, 'x');
  throwsNaming(() => backend.embedding(weight, Int32Array.of(0, 4)), RangeError, 'ids[1]');
  throwsNaming(() => backend.embedding(weight, Int32Array.of(-1)), RangeError, 'ids[0]');
  throwsNaming(() => backend.layerNorm(new Float32Array(5), new Float32Array(2), new Float32Array(2), 1e-5), RangeError, 'x');
  throwsNaming(() => backend.layerNorm(new Float32Array(4), new Float32Array(2), new Float32Array(3), 1e-5), RangeError, 'beta');
  throwsNaming(() => backend.layerNorm(new Float32Array(4), new Float32Array(2), new Float32Array(2), NaN), RangeError, 'eps');
  throwsNaming(() => backend.addInPlace(new Float32Array(4), new Float32Array(3)), RangeError, 'src');
  throwsNaming(() => backend.tokenLogProbs(new Float32Array(10), 5, Int32Array.of(0, 5)), RangeError, 'targets[1]');
  throwsNaming(() => backend.tokenLogProbs(new Float32Array(9), 5, Int32Array.of(0, 1)), RangeError, 'logits');

  const args = {
    qkv: new Float32Array(2 * 3 * 4),
    batch: 1,
    queryLen: 2,
    heads: 1,
    headDim: 4,
    keyCache: new Float32Array(4 * 4),
    valueCache: new Float32Array(4 * 4),
    capacity: 4,
    pastLen: 1,
    mask: Uint8Array.of(1, 1, 1),
    slopes: Float32Array.of(0.5),
  };
  assert.equal(backend.attention(args).length, 8);
  throwsNaming(() => backend.attention({ ...args, pastLen: 3 }), RangeError, 'capacity');
  throwsNaming(() => backend.attention({ ...args, mask: Uint8Array.of(1, 1) }), RangeError, 'mask');
  throwsNaming(() => backend.attention({ ...args, mask: Uint8Array.of(1, 2, 1) }), RangeError, 'mask[1]');
  throwsNaming(() => backend.attention({ ...args, slopes: new Float32Array(2) }), RangeError, 'slopes');
  throwsNaming(() => backend.attention({ ...args, qkv: new Float32Array(23) }), RangeError, 'qkv');
  throwsNaming(() => backend.attention({ ...args, valueCache: new Float32Array(15) }), RangeError, 'valueCache');
  throwsNaming(() => backend.attention({ ...args, heads: 0 }), RangeError, 'heads');
});

nativeTest('the addon itself rejects bad arguments instead of crashing', (backend) => {
  // Bypasses the TypeScript checks: the addon's own checks must hold for direct callers.
  const addon = (backend as unknown as { addon: Record<string, (...args: unknown[]) => unknown> }).addon;
  const handle = (backend.prepareWeight(f32Tensor([4, 3], new Float32Array(12)), 'bf16') as NativeWeight).handle;
  const f32 = (n: number) => new Float32Array(n);
  const cases: Array<[string, unknown[]]> = [
    ['prepareWeight', [f32(11), 0, 4, 3, 1]],
    ['prepareWeight', [new Uint16Array(12), 0, 4, 3, 1]],
    ['prepareWeight', [f32(12), 7, 4, 3, 1]],
    ['prepareWeight', [f32(12), 0, 4, 3, 2]],
    ['linear', [f32(6), 2, {}, null, f32(8)]],
    ['linear', [f32(6), 2, handle, null, f32(7)]],
    ['linear', [f32(6), -2, handle, null, f32(8)]],
    ['linear', [f32(6), 2, handle, f32(3), f32(8)]],
    ['linear', [f32(2 ** 20), 2 ** 52, handle, null, f32(8)]],
    ['embedding', [handle, Int32Array.of(4), f32(3)]],
    ['embedding', [handle, Int32Array.of(0), f32(4)]],
    ['layerNorm', [f32(4), f32(0), f32(0), 1e-5, f32(4)]],
    ['layerNorm', [f32(4), f32(2), f32(2), 1e-5, f32(3)]],
    ['gelu', [f32(4), f32(3)]],
    ['addInPlace', [f32(4), new Float64Array(4)]],
    ['attention', [f32(24), 1, 2, 1, 4, f32(16), f32(16), 4, 3, new Uint8Array(5), f32(1), f32(8)]],
    ['attention', [f32(24), 1, 2, 1, 4, f32(15), f32(16), 4, 1, new Uint8Array(3), f32(1), f32(8)]],
    ['tokenLogProbs', [f32(10), 5, Int32Array.of(0, 5), f32(2), new Uint8Array(2)]],
    ['tokenLogProbs', [f32(10), 5, Int32Array.of(0, 1), f32(1), new Uint8Array(2)]],
  ];
  cases.forEach(([name, args], index) => {
    assert.throws(() => addon[name](...args), (error: unknown) => error instanceof TypeError || error instanceof RangeError, `case ${index}: ${name}`);
  });
});

nativeTest('empty inputs return empty outputs', (backend) => {
  const weight = backend.prepareWeight(f32Tensor([4, 3], new Float32Array(12)), 'bf16');
  assert.equal(backend.linear(new Float32Array(0), 0, weight, null).length, 0);
  assert.equal(backend.embedding(weight, new Int32Array(0)).length, 0);
  assert.equal(backend.gelu(new Float32Array(0)).length, 0);
  assert.equal(backend.layerNorm(new Float32Array(0), new Float32Array(3), new Float32Array(3), 1e-5).length, 0);
  assert.equal(backend.tokenLogProbs(new Float32Array(0), 5, new Int32Array(0)).logProbs.length, 0);
});

nativeTest('the machine peaks are measured', (backend) => {
  assert.ok(backend.threads() >= 1);
  assert.ok(backend.fmaPeakGflops(0.05) > 0);
  assert.ok(backend.bf16DotPeakGflops(0.05) >= 0);
});

/**
 * NF4 quantisation against bitsandbytes' algorithm (see src/peft/qlora/nf4.ts for the rules).
 *
 * The golden values below were derived by hand from that algorithm, not produced by this code:
 * - NF4 example: x = [2, -1, 0.1, -0.3, 1.5, 0, -2, 0.8] is one (short) block with absmax 2, so the
 *   reciprocal scale is exactly 0.5 and the scaled values are [1, -0.5, 0.05, -0.15, 0.75, 0, -1, 0.4].
 *   Each takes the code whose midpoint interval holds it: 1 → 15 (1.0); -0.5 lies below the midpoint
 *   -0.4600 of codes 2 and 3 → 2; 0.05 lies between the midpoints 0.0398 and 0.1203 → 8; -0.15 lies below
 *   the midpoint -0.1379 of codes 5 and 6 → 5; 0.75 lies below the midpoint 0.8615 of codes 14 and 15 →
 *   14; 0 → 7; -1 → 0; 0.4 lies above the midpoint 0.3893 of codes 11 and 12 → 12. Packed high nibble
 *   first: 0xF2, 0x85, 0xE7, 0x0C. Dequantised: code · 2.
 * - Double quantisation example: three 64-blocks with absmax 1, 2, 3 → offset = mean = 2, centred
 *   [-1, 0, 1] in one 256-block with absmax2 = 1, scaled [-1, 0, 1]: -1 lies below every midpoint → code
 *   0 (the map's lowest value, −m with m the largest mean below 1), 0 → the map's 0 entry (index 127:
 *   127 negative values precede it), 1 → 255 (1.0). Recovered scales: [2 − m, 2, 3].
 * - The dynamic map's largest mean m = (b63 + b64) / 2 of linspace(0.1, 1, 65) in float32: the step is
 *   fl32(0.9 / 64), b64 = 1 and b63 = fl32(1 − step), so m ≈ 0.99296875; its smallest positive entry is
 *   1e-6 · (0.1 + 1) / 2 = 5.5e-7 (linspace(0.1, 1, 2) has one mean).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  createDynamicMap,
  DOUBLE_QUANT_BLOCK_SIZE,
  dequantizeNf4,
  doubleQuantize,
  NF4_CODE,
  nf4BlockAbsmax,
  nf4Bytes,
  quantizeBlockwise,
  quantizeNf4,
} from '../../../src/peft/qlora/nf4.js';
import { rng } from '../../helpers/numeric.js';

const f = Math.fround;

function normals(n: number, seed: number, std = 1): Float32Array {
  const random = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random()) * std;
  return out;
}

/** Codes of a quantised tensor, element by element (high nibble first). */
function codes(packed: Uint8Array, n: number): number[] {
  return Array.from({ length: n }, (_, i) => ((i & 1) === 0 ? packed[i >> 1] >> 4 : packed[i >> 1] & 0x0f));
}

describe('NF4 code book', () => {
  test('the 16 values of bitsandbytes, sorted, from -1 to 1 with an exact 0', () => {
    const expected = [
      -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
      0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
    ];
    assert.equal(NF4_CODE.length, 16);
    for (let i = 0; i < 16; i++) assert.equal(NF4_CODE[i], f(expected[i]));
    for (let i = 1; i < 16; i++) assert.ok(NF4_CODE[i] > NF4_CODE[i - 1]);
  });

  test('every code value quantises to itself', () => {
    const values = Float32Array.from(NF4_CODE);
    const t = quantizeNf4(values);
    assert.deepEqual(codes(t.packed, 16), [...Array(16).keys()]);
    assert.deepEqual([...dequantizeNf4(t)], [...values]);
  });
});

describe('NF4 quantisation', () => {
  test('hand-computed golden example: codes, packing (high nibble first) and values', () => {
    const x = Float32Array.of(2, -1, 0.1, -0.3, 1.5, 0, -2, 0.8);
    const t = quantizeNf4(x);
    assert.deepEqual([...t.absmax as Float32Array], [2]);
    assert.deepEqual(codes(t.packed, 8), [15, 2, 8, 5, 14, 7, 0, 12]);
    assert.deepEqual([...t.packed], [0xf2, 0x85, 0xe7, 0x0c]);
    assert.deepEqual([...dequantizeNf4(t)], [15, 2, 8, 5, 14, 7, 0, 12].map((q) => f(NF4_CODE[q] * 2)));
  });

  test('pack layout: element 2i in the high nibble, 2i+1 in the low; an odd tail pads with code 7', () => {
    const t = quantizeNf4(Float32Array.of(-1, 1, 0));
    assert.deepEqual([...t.packed], [0x0f, 0x77]);
    assert.deepEqual(t.shape, [3]);
  });

  test('a value exactly on a midpoint takes the lower code (bucketize, right=False); just above takes the upper', () => {
    for (let i = 0; i < 15; i++) {
      const mid = f(NF4_CODE[i] + NF4_CODE[i + 1]) / 2;
      const above = mid + Math.abs(mid) * 2 ** -22 + 1e-30;
      const t = quantizeNf4(Float32Array.of(1, mid, f(above), -1));
      assert.deepEqual(codes(t.packed, 4), [15, i, i + 1, 0], `midpoint ${i}`);
    }
  });

  test('blocks of 64 over the flattened tensor, each with its own absmax; a short last block', () => {
    const x = normals(64 * 3 + 10, 1);
    x[5] = 7; // block 0
    x[64 + 9] = -9; // block 1
    const t = quantizeNf4(x, { shape: [2, 101] });
    const absmax = t.absmax as Float32Array;
    assert.equal(absmax.length, 4);
    assert.equal(absmax[0], 7);
    assert.equal(absmax[1], 9);
    let tail = 0;
    for (let i = 192; i < x.length; i++) tail = Math.max(tail, Math.abs(x[i]));
    assert.equal(absmax[3], tail);
    assert.equal(t.packed.length, Math.ceil(x.length / 2));
    assert.deepEqual(t.shape, [2, 101]);
  });

  test('quantise → dequantise error is at most half the largest code gap times the block absmax', () => {
    let maxGap = 0;
    for (let i = 1; i < 16; i++) maxGap = Math.max(maxGap, NF4_CODE[i] - NF4_CODE[i - 1]);
    const x = normals(64 * 50 + 17, 2, 0.02);
    const t = quantizeNf4(x);
    const y = dequantizeNf4(t);
    const absmax = t.absmax as Float32Array;
    for (let i = 0; i < x.length; i++) {
      const bound = (maxGap / 2) * absmax[Math.floor(i / 64)] * (1 + 1e-6);
      assert.ok(Math.abs(x[i] - y[i]) <= bound, `element ${i}: |${x[i]} - ${y[i]}| > ${bound}`);
    }
  });

  test('the nearest code is chosen (checked against an exhaustive search away from midpoints)', () => {
    const x = normals(4096, 3);
    const t = quantizeNf4(x);
    const absmax = t.absmax as Float32Array;
    const q = codes(t.packed, x.length);
    for (let i = 0; i < x.length; i++) {
      const scaled = Math.max(-1, Math.min(1, f(x[i] * f(1 / absmax[Math.floor(i / 64)]))));
      let best = 0;
      for (let c = 1; c < 16; c++) if (Math.abs(NF4_CODE[c] - scaled) < Math.abs(NF4_CODE[best] - scaled)) best = c;
      assert.equal(q[i], best, `element ${i}`);
    }
  });

  test('an all-zero block has absmax 0 and dequantises to zeros', () => {
    const t = quantizeNf4(new Float32Array(64));
    assert.deepEqual([...(t.absmax as Float32Array)], [0]);
    assert.ok(t.packed.every((b) => b === 0x77));
    assert.ok(dequantizeNf4(t).every((v) => v === 0));
  });

  test('only block size 64 is accepted, and the shape must match', () => {
    assert.throws(() => quantizeNf4(new Float32Array(4), { blockSize: 128 as 64 }), RangeError);
    assert.throws(() => quantizeNf4(new Float32Array(4), { shape: [3, 2] }), RangeError);
  });
});

describe('double quantisation of the block scales', () => {
  test('the signed dynamic map: 256 sorted values with 0 and 1, hand-derived extremes', () => {
    const map = createDynamicMap(true);
    assert.equal(map.length, 256);
    for (let i = 1; i < 256; i++) assert.ok(map[i] > map[i - 1], `map is strictly increasing at ${i}`);
    assert.equal(map[255], 1);
    assert.equal(map[127], 0);
    const step = f(f(1 - f(0.1)) / 64);
    const m = f(f(1 + f(1 - step)) / 2);
    assert.equal(map[254], m);
    assert.ok(Math.abs(m - 0.99296875) < 1e-6);
    assert.equal(map[0], -m);
    assert.equal(map[128], f(f(1e-6) * f(f(f(0.1) + 1) / 2)));
    assert.equal(map[126], -map[128]);
    // 127 negative values, 0, 127 positive values below 1, and 1.
    assert.equal(map.filter((v) => v < 0).length, 127);
    assert.equal(map.filter((v) => v > 0).length, 128);
  });

  test('hand-computed golden example: offset, codes and recovered scales', () => {
    const x = new Float32Array(64 * 3);
    x[0] = 1;
    x[64] = -2;
    x[128 + 63] = 3;
    const t = quantizeNf4(x, { doubleQuant: true });
    assert.ok(!(t.absmax instanceof Float32Array));
    const dq = t.absmax;
    assert.equal(dq.offset, 2);
    assert.deepEqual([...dq.absmax2], [1]);
    assert.deepEqual([...dq.quantized], [0, 127, 255]);
    const m = createDynamicMap(true)[254];
    assert.deepEqual([...nf4BlockAbsmax(t)], [f(2 - m), 2, 3]);
  });

  test('round trip: scales recovered within half a dynamic-map step, blocks of 256 with their own absmax2', () => {
    const x = normals(64 * 700, 4, 0.02);
    const plain = quantizeNf4(x);
    const t = quantizeNf4(x, { doubleQuant: true });
    assert.deepEqual([...t.packed], [...plain.packed], 'the 4-bit codes do not depend on double quantisation');
    const exact = plain.absmax as Float32Array;
    const dq = t.absmax as Exclude<typeof t.absmax, Float32Array>;
    assert.equal(dq.quantized.length, 700);
    assert.equal(dq.absmax2.length, Math.ceil(700 / DOUBLE_QUANT_BLOCK_SIZE));
    const recovered = nf4BlockAbsmax(t);
    // The dynamic map's widest gap in [-1, 1] is its top decade's, 0.9 / 64.
    for (let b = 0; b < 700; b++) {
      const bound = (0.9 / 64 / 2) * dq.absmax2[Math.floor(b / 256)] + 1e-9;
      assert.ok(Math.abs(recovered[b] - exact[b]) <= bound, `block ${b}`);
    }
    const y = dequantizeNf4(t);
    for (let i = 0; i < x.length; i++) assert.equal(y[i], f(NF4_CODE[codes(t.packed, i + 1)[i]] * recovered[Math.floor(i / 64)]));
    // 4 bits per value plus 8 bits per 64 values plus a float per 256 blocks (and the 1 KiB map).
    assert.equal(nf4Bytes(t), x.length / 2 + 700 + 4 * 3 + 1024 + 4);
    assert.equal(nf4Bytes(plain), x.length / 2 + 4 * 700);
  });

  test('quantizeBlockwise with the dynamic map picks the nearest map value', () => {
    const map = createDynamicMap(true);
    const v = normals(600, 5);
    const { quantized, absmax } = quantizeBlockwise(v, map, 256);
    for (let i = 0; i < v.length; i++) {
      const scaled = Math.max(-1, Math.min(1, f(v[i] * f(1 / absmax[Math.floor(i / 256)]))));
      let best = 0;
      for (let c = 1; c < 256; c++) if (Math.abs(map[c] - scaled) < Math.abs(map[best] - scaled)) best = c;
      assert.equal(quantized[i], best, `element ${i}`);
    }
    assert.deepEqual(doubleQuantize(Float32Array.of(1, 3)).quantized.length, 2);
  });
});

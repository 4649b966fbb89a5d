import assert from 'node:assert/strict';

/** Seeded random inputs and tolerance checks shared by the backend tests. */
/** mulberry32: a small seeded generator, so failures reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomF32(n: number, random: () => number, scale = 1, offset = 0): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = offset + (random() * 2 - 1) * scale;
  return out;
}

export function rms(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] * values[i];
  return Math.sqrt(sum / Math.max(1, values.length));
}

/** |actual - expected| <= rtol * (|expected| + RMS(expected)) + atol, elementwise. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, label: string, atol = 0): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  const scale = rms(expected);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const bound = rtol * (Math.abs(e) + scale) + atol;
    if (!(Math.abs(a - e) <= bound)) {
      assert.fail(`${label}: element ${i} is ${a}, expected ${e} (|diff| ${Math.abs(a - e)} > ${bound})`);
    }
  }
}

/** Largest difference relative to the expected tensor's largest magnitude. */
export function relativeDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < actual.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return diff / scale;
}

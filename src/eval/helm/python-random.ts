import { createHash } from 'node:crypto';
import { InvalidInputError } from '../../errors.js';
import { Mt19937 } from '../mt19937.js';

/**
 * CPython's `random.Random` for the calls HELM's perturbations make, draw for draw. HELM seeds one
 * generator per instance with `Random(instance_id)` or `Random(str(seed) + instance_id)`
 * (helm/benchmark/augmentations/perturbation.py, `get_rng`), so reproducing the generator makes a
 * perturbation here pick the same typos, spaces and substitutions as HELM's for the same id.
 *
 * - seed(int): |n| fed to init_by_array as 32-bit words, least significant first ([0] for 0), as
 *   lm-evaluation-harness's bootstrap seeds `random.Random(i)` per chunk.
 * - seed(str), version 2: the integer whose big-endian bytes are utf8(s) + sha512(utf8(s)), fed to
 *   init_by_array as 32-bit words, least significant first.
 * - random(): 53 bits from two outputs, (a >> 5) * 2^26 + (b >> 6), over 2^53.
 * - getrandbits(k <= 32): one output shifted right by 32 - k.
 * - _randbelow(n): getrandbits(n.bit_length()) until below n; choice, randint build on it.
 * Checked against /usr/bin/python3 3.11 in test/eval/helm/python-random.test.ts.
 */
export class PythonRandom {
  private readonly twister: Mt19937;

  constructor(seed: string | number) {
    this.twister = Mt19937.fromKey(typeof seed === 'number' ? integerSeedKey(seed) : stringSeedKey(seed));
  }

  /** Uniform in [0, 1) with 53 random bits. */
  random(): number {
    const a = this.twister.nextUint32() >>> 5;
    const b = this.twister.nextUint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** `uniform(a, b)`: a + (b - a) * random(). */
  uniform(a: number, b: number): number {
    return a + (b - a) * this.random();
  }

  getrandbits(k: number): number {
    if (!Number.isInteger(k) || k < 0 || k > 32) throw new InvalidInputError('k', `must be an integer in [0, 32], got ${k}`);
    if (k === 0) return 0;
    return this.twister.nextUint32() >>> (32 - k);
  }

  /** A uniform integer in [0, n), by rejection as CPython's `_randbelow_with_getrandbits`. */
  randbelow(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 0xffffffff) throw new InvalidInputError('n', `must be an integer in [1, 2^32 - 1], got ${n}`);
    const k = 32 - Math.clz32(n);
    let r = this.getrandbits(k);
    while (r >= n) r = this.getrandbits(k);
    return r;
  }

  /** `randint(a, b)`, both ends included. */
  randint(a: number, b: number): number {
    if (!Number.isInteger(a) || !Number.isInteger(b) || b < a) throw new InvalidInputError('randint', `needs integers a <= b, got ${a}, ${b}`);
    return a + this.randbelow(b - a + 1);
  }

  choice<T>(sequence: readonly T[]): T {
    if (sequence.length === 0) throw new InvalidInputError('choice', 'cannot choose from an empty sequence');
    return sequence[this.randbelow(sequence.length)];
  }
}

/** CPython's seed(str), version 2: utf8(s) + sha512(utf8(s)) as one big-endian integer, in 32-bit words least significant first. */
function stringSeedKey(seed: string): number[] {
  const text = Buffer.from(seed, 'utf8');
  const bytes = Buffer.concat([text, createHash('sha512').update(text).digest()]);
  let start = 0;
  while (start < bytes.length && bytes[start] === 0) start++;
  const significant = bytes.subarray(start);
  const words: number[] = [];
  for (let end = significant.length; end > 0; end -= 4) {
    let word = 0;
    for (let b = Math.max(0, end - 4); b < end; b++) word = word * 256 + significant[b];
    words.push(word >>> 0);
  }
  return words.length === 0 ? [0] : words;
}

/** CPython's seed(int): abs(n) in 32-bit words, least significant first; [0] for 0. */
function integerSeedKey(seed: number): number[] {
  if (!Number.isSafeInteger(seed)) throw new InvalidInputError('seed', `must be a safe integer, got ${seed}`);
  let n = Math.abs(seed);
  const words = [n % 0x100000000];
  n = Math.floor(n / 0x100000000);
  while (n > 0) {
    words.push(n % 0x100000000);
    n = Math.floor(n / 0x100000000);
  }
  return words;
}

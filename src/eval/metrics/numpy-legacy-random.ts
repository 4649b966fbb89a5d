import { InvalidInputError } from '../../errors.js';

/**
 * The random integers of numpy's legacy `RandomState` (what `np.random.seed(s)` then `np.random.randint`
 * or `np.random.choice` draw): the 32-bit Mersenne Twister MT19937 seeded with init_genrand(s), and
 * bounded integers by masked rejection sampling. Reproducing it lets a seeded bootstrap here equal
 * rouge-score's BootstrapAggregator run after `np.random.seed(s)`.
 */
export class LegacyRandomState {
  private readonly state = new Uint32Array(624);
  private position = 624;

  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new InvalidInputError('seed', `must be an integer in [0, 2^32 - 1], got ${seed}`);
    this.state[0] = seed;
    for (let i = 1; i < 624; i++) {
      const previous = this.state[i - 1];
      this.state[i] = Math.imul(1812433253, previous ^ (previous >>> 30)) + i;
    }
  }

  private twist(): void {
    const mt = this.state;
    for (let i = 0; i < 624; i++) {
      const y = (mt[i] & 0x80000000) | (mt[(i + 1) % 624] & 0x7fffffff);
      mt[i] = mt[(i + 397) % 624] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    this.position = 0;
  }

  /** The next 32-bit output (genrand_int32). */
  nextUint32(): number {
    if (this.position >= 624) this.twist();
    let y = this.state[this.position++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** A uniform integer in [0, high), as `randint(0, high)`: masked 32-bit draws, rejected until in range. */
  randint(high: number): number {
    if (!Number.isInteger(high) || high < 1 || high > 0xffffffff) throw new InvalidInputError('high', `must be an integer in [1, 2^32 - 1], got ${high}`);
    const max = high - 1;
    if (max === 0) return 0;
    let mask = max;
    for (const shift of [1, 2, 4, 8, 16]) mask |= mask >>> shift;
    mask >>>= 0;
    for (;;) {
      const value = (this.nextUint32() & mask) >>> 0;
      if (value <= max) return value;
    }
  }
}

import { InvalidInputError } from '../../errors.js';
import { Mt19937 } from '../mt19937.js';

/**
 * The random integers of numpy's legacy `RandomState` (what `np.random.seed(s)` then `np.random.randint`
 * or `np.random.choice` draw): the 32-bit Mersenne Twister MT19937 seeded with init_genrand(s), and
 * bounded integers by masked rejection sampling. Reproducing it lets a seeded bootstrap here equal
 * rouge-score's BootstrapAggregator run after `np.random.seed(s)`.
 */
export class LegacyRandomState {
  private readonly twister: Mt19937;

  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new InvalidInputError('seed', `must be an integer in [0, 2^32 - 1], got ${seed}`);
    this.twister = Mt19937.fromSeed(seed);
  }

  /** The next 32-bit output (genrand_int32). */
  nextUint32(): number {
    return this.twister.nextUint32();
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

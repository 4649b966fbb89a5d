/**
 * The 32-bit Mersenne Twister (Matsumoto and Nishimura's mt19937ar.c), shared by the reproductions of
 * numpy's legacy RandomState (seeded with init_genrand) and of Python's `random.Random` (seeded with
 * init_by_array).
 */
export class Mt19937 {
  private readonly state = new Uint32Array(624);
  private position = 624;

  /** mt19937ar's init_genrand(seed). */
  static fromSeed(seed: number): Mt19937 {
    const mt = new Mt19937();
    mt.initGenrand(seed >>> 0);
    return mt;
  }

  /** mt19937ar's init_by_array(key): what CPython's `random.seed(n)` does with |n| split into 32-bit words, least significant first. */
  static fromKey(key: readonly number[]): Mt19937 {
    const mt = new Mt19937();
    mt.initGenrand(19650218);
    const s = mt.state;
    let i = 1;
    let j = 0;
    for (let k = Math.max(624, key.length); k > 0; k--) {
      const previous = s[i - 1] ^ (s[i - 1] >>> 30);
      s[i] = ((s[i] ^ Math.imul(previous, 1664525)) + key[j] + j) >>> 0;
      i++;
      j++;
      if (i >= 624) {
        s[0] = s[623];
        i = 1;
      }
      if (j >= key.length) j = 0;
    }
    for (let k = 623; k > 0; k--) {
      const previous = s[i - 1] ^ (s[i - 1] >>> 30);
      s[i] = ((s[i] ^ Math.imul(previous, 1566083941)) - i) >>> 0;
      i++;
      if (i >= 624) {
        s[0] = s[623];
        i = 1;
      }
    }
    s[0] = 0x80000000;
    return mt;
  }

  private initGenrand(seed: number): void {
    this.state[0] = seed;
    for (let i = 1; i < 624; i++) {
      const previous = this.state[i - 1];
      this.state[i] = Math.imul(1812433253, previous ^ (previous >>> 30)) + i;
    }
    this.position = 624;
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
}

/**
 * ALiBi slopes for `heads` attention heads, as BLOOM computes them: a geometric sequence for the largest
 * power of two c ≤ heads, then, when heads is not a power of two, every other slope of the sequence for
 * 2c, taken from the first (1, 3, 5, ...).
 */
export function alibiSlopes(heads: number): Float32Array {
  const closestPowerOfTwo = 2 ** Math.floor(Math.log2(heads));
  const base = 2 ** -(2 ** -(Math.log2(closestPowerOfTwo) - 3));
  const slopes: number[] = [];
  for (let i = 1; i <= closestPowerOfTwo; i++) slopes.push(base ** i);
  if (closestPowerOfTwo !== heads) {
    const extraBase = 2 ** -(2 ** -(Math.log2(2 * closestPowerOfTwo) - 3));
    const extra = Math.min(closestPowerOfTwo, heads - closestPowerOfTwo);
    for (let i = 1; i < 2 * extra; i += 2) slopes.push(extraBase ** i);
  }
  return Float32Array.from(slopes);
}

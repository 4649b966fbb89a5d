import { SeededRandom } from '../../inference/sampling.js';

/** 0..count-1 in an order fixed by the seed (Fisher–Yates), so that data order is reproducible. */
export function shuffledIndices(count: number, random: SeededRandom): number[] {
  const indices = Array.from({ length: count }, (_, index) => index);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random.next() * (i + 1));
    [indices[i], indices[j]] = [indices[j], indices[i]];
  }
  return indices;
}

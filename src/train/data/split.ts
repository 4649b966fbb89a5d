import { SeededRandom } from '../../inference/sampling.js';
import { shuffledIndices } from './shuffle.js';

export interface TrainValidationSplit<T> {
  readonly train: T[];
  readonly validation: T[];
}

/**
 * Holds out `fraction` of the items (rounded, at least one when the fraction is positive and there are two or
 * more items), chosen by the seed. Both parts keep the items' original order, so a split is easy to read
 * and diff, and the same seed always gives the same split.
 */
export function splitTrainValidation<T>(items: readonly T[], fraction: number, seed: number): TrainValidationSplit<T> {
  if (!(fraction >= 0 && fraction < 1)) throw new RangeError(`validation fraction must be in [0, 1), got ${fraction}`);
  let held = Math.round(items.length * fraction);
  if (fraction > 0 && items.length >= 2) held = Math.max(held, 1);
  const heldOut = new Set(shuffledIndices(items.length, new SeededRandom(seed)).slice(0, held));
  return {
    train: items.filter((_, index) => !heldOut.has(index)),
    validation: items.filter((_, index) => heldOut.has(index)),
  };
}

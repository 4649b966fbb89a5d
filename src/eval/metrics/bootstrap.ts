import { InvalidInputError } from '../../errors.js';
import { SeededRandom } from '../../inference/sampling.js';

export interface BootstrapOptions {
  /** Resamples drawn (default 1000). */
  readonly samples?: number;
  /** Coverage of the interval (default 0.95). */
  readonly confidence?: number;
  /** Fixes the resamples, so the same seed gives the same interval (default 1234). */
  readonly seed?: number;
}

export interface ConfidenceInterval {
  /** The metric on the items themselves. */
  readonly estimate: number;
  readonly lower: number;
  readonly upper: number;
  readonly confidence: number;
  readonly samples: number;
  readonly seed: number;
}

/**
 * Percentile bootstrap interval for any metric of a list of per-item records: the metric is recomputed
 * on `samples` resamples drawn with replacement, and the interval's ends are the (1−c)/2 and (1+c)/2
 * quantiles of those values (linear interpolation between order statistics, as numpy's percentile).
 * Items are resampled whole, so metrics over item pairs (F1 over gold/prediction) stay paired.
 */
export function bootstrapConfidenceInterval<T>(items: readonly T[], metric: (sample: readonly T[]) => number, options: BootstrapOptions = {}): ConfidenceInterval {
  const samples = options.samples ?? 1000;
  const confidence = options.confidence ?? 0.95;
  const seed = options.seed ?? 1234;
  if (items.length === 0) throw new InvalidInputError('items', 'is empty: nothing to resample');
  if (!Number.isInteger(samples) || samples < 1) throw new InvalidInputError('samples', `must be a positive integer, got ${samples}`);
  if (!(confidence > 0 && confidence < 1)) throw new InvalidInputError('confidence', `must lie strictly between 0 and 1, got ${confidence}`);
  const random = new SeededRandom(seed);
  const values = new Float64Array(samples);
  const resample = new Array<T>(items.length);
  for (let s = 0; s < samples; s++) {
    for (let i = 0; i < items.length; i++) resample[i] = items[Math.floor(random.next() * items.length)];
    values[s] = metric(resample);
  }
  values.sort();
  const tail = (1 - confidence) / 2;
  return { estimate: metric(items), lower: quantile(values, tail), upper: quantile(values, 1 - tail), confidence, samples, seed };
}

/** numpy's default ('linear') quantile of sorted values. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const position = q * (sorted.length - 1);
  const below = Math.floor(position);
  const above = Math.min(below + 1, sorted.length - 1);
  return sorted[below] + (sorted[above] - sorted[below]) * (position - below);
}

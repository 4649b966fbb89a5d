import { InvalidInputError } from '../../errors.js';
import { LegacyRandomState } from './numpy-legacy-random.js';
import type { RougeScore, RougeScores } from './rouge.js';

/**
 * Confidence intervals for mean ROUGE by bootstrap resampling, as rouge-score's BootstrapAggregator
 * computes them: per ROUGE type (in the order of the first row), `samples` resamples of the rows with
 * replacement, each resample's mean precision, recall and F-measure, and numpy's linear-interpolated
 * percentiles of those means. `mid` is the median of the resampled means, not the plain mean. With the
 * same seed the intervals equal rouge-score's after `np.random.seed(seed)`.
 */

export interface RougeInterval {
  low: RougeScore;
  mid: RougeScore;
  high: RougeScore;
}

export interface BootstrapOptions {
  /** Default 0.95: the 2.5th and 97.5th percentiles. */
  confidenceInterval?: number;
  /** Default 1000. */
  samples?: number;
  /** Default 0. */
  seed?: number;
}

/** numpy's default ('linear') percentile of sorted values, with its two-sided interpolation. */
function percentile(sorted: Float64Array, q: number): number {
  const n = sorted.length;
  const virtualIndex = (n - 1) * (q / 100);
  if (virtualIndex >= n - 1) return sorted[n - 1];
  const previous = Math.floor(virtualIndex);
  const gamma = virtualIndex - previous;
  const a = sorted[previous];
  const b = sorted[previous + 1];
  const difference = b - a;
  return gamma >= 0.5 ? b - difference * (1 - gamma) : a + difference * gamma;
}

export function bootstrapRouge(rows: readonly RougeScores[], options: BootstrapOptions = {}): Record<string, RougeInterval> {
  const confidence = options.confidenceInterval ?? 0.95;
  const samples = options.samples ?? 1000;
  if (!(confidence >= 0 && confidence <= 1)) throw new InvalidInputError('confidenceInterval', `must be in [0, 1], got ${confidence}`);
  if (!Number.isInteger(samples) || samples <= 0) throw new InvalidInputError('samples', `must be a positive integer, got ${samples}`);
  if (rows.length === 0) throw new InvalidInputError('rows', 'needs at least one row of scores');
  const random = new LegacyRandomState(options.seed ?? 0);
  const delta = (1 - confidence) / 2;
  const quantiles = [100 * delta, 100 * 0.5, 100 * (1 - delta)];
  const measures = ['precision', 'recall', 'fmeasure'] as const;
  const result: Record<string, RougeInterval> = {};
  const n = rows.length;
  for (const type of Object.keys(rows[0])) {
    const means = measures.map(() => new Float64Array(samples));
    for (let s = 0; s < samples; s++) {
      const sums = [0, 0, 0];
      for (let k = 0; k < n; k++) {
        const score = rows[random.randint(n)][type];
        if (!score) throw new InvalidInputError('rows', `a row lacks ${type}`);
        measures.forEach((measure, m) => (sums[m] += score[measure]));
      }
      measures.forEach((_, m) => (means[m][s] = sums[m] / n));
    }
    for (const values of means) values.sort();
    const at = (q: number): RougeScore => ({ precision: percentile(means[0], q), recall: percentile(means[1], q), fmeasure: percentile(means[2], q) });
    result[type] = { low: at(quantiles[0]), mid: at(quantiles[1]), high: at(quantiles[2]) };
  }
  return result;
}

import { InvalidInputError } from '../../errors.js';
import { SeededRandom } from '../../inference/sampling.js';
import { type PairwiseWinner, pairwiseScore } from './pairwise.js';

export interface Interval {
  readonly low: number;
  readonly high: number;
}

export interface WinRateSummary {
  readonly comparisons: number;
  readonly wins: number;
  readonly ties: number;
  readonly losses: number;
  /** (wins + ties / 2) / comparisons: the candidate's mean pairwise score. */
  readonly winRate: number;
  /** Percentile bootstrap interval of winRate: comparisons resampled with replacement, seeded. */
  readonly winRateInterval: Interval;
  /** wins / (wins + losses), ties left out; null when every comparison was a tie. */
  readonly decisiveWinRate: number | null;
  /** Wilson score interval of decisiveWinRate. */
  readonly decisiveWinRateInterval: Interval | null;
  readonly confidence: number;
  readonly resamples: number;
  readonly seed: number;
}

export interface WinRateOptions {
  /** Two-sided confidence level (default 0.95). */
  readonly confidence?: number;
  /** Bootstrap resamples (default 10000). */
  readonly resamples?: number;
  /** Bootstrap seed (default 0): the same outcomes and seed give the same interval. */
  readonly seed?: number;
}

/**
 * The candidate's win rate over pairwise comparisons, with two intervals: a seeded percentile bootstrap for
 * the rate that counts ties as half a win (ties make it no binomial proportion, so Wilson does not apply),
 * and a Wilson score interval for the share of decisive comparisons the candidate won.
 */
export function summarizeWinRate(winners: readonly PairwiseWinner[], options: WinRateOptions = {}): WinRateSummary {
  const confidence = options.confidence ?? 0.95;
  const resamples = options.resamples ?? 10_000;
  const seed = options.seed ?? 0;
  if (winners.length === 0) throw new InvalidInputError('comparisons', 'a win rate needs at least one comparison');
  if (!(confidence > 0 && confidence < 1)) throw new InvalidInputError('confidence', `must be in (0, 1), got ${confidence}`);
  if (!(Number.isInteger(resamples) && resamples >= 100)) throw new InvalidInputError('resamples', `must be an integer >= 100, got ${resamples}`);
  const wins = winners.filter((w) => w === 'candidate').length;
  const ties = winners.filter((w) => w === 'tie').length;
  const losses = winners.length - wins - ties;
  const scores = winners.map(pairwiseScore);
  const decisive = wins + losses;
  return {
    comparisons: winners.length,
    wins,
    ties,
    losses,
    winRate: mean(scores),
    winRateInterval: bootstrapMeanInterval(scores, confidence, resamples, seed),
    decisiveWinRate: decisive > 0 ? wins / decisive : null,
    decisiveWinRateInterval: decisive > 0 ? wilsonInterval(wins, decisive, confidence) : null,
    confidence,
    resamples,
    seed,
  };
}

/** The Wilson score interval for `successes` out of `trials` at two-sided `confidence`. */
export function wilsonInterval(successes: number, trials: number, confidence = 0.95): Interval {
  if (!(Number.isInteger(trials) && trials > 0 && Number.isInteger(successes) && successes >= 0 && successes <= trials)) {
    throw new InvalidInputError('wilsonInterval', `needs whole successes in [0, trials] and trials > 0, got ${successes}/${trials}`);
  }
  const z = normalQuantile(1 - (1 - confidence) / 2);
  const p = successes / trials;
  const z2n = (z * z) / trials;
  const center = (p + z2n / 2) / (1 + z2n);
  const half = (z / (1 + z2n)) * Math.sqrt((p * (1 - p)) / trials + z2n / (4 * trials));
  return { low: Math.max(0, center - half), high: Math.min(1, center + half) };
}

/**
 * Percentile bootstrap interval of the mean: `resamples` means of samples drawn with replacement, cut at
 * the (1 - confidence) / 2 and (1 + confidence) / 2 quantiles (linear interpolation, as numpy.percentile).
 */
export function bootstrapMeanInterval(values: readonly number[], confidence: number, resamples: number, seed: number): Interval {
  const random = new SeededRandom(seed);
  const n = values.length;
  const means = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += values[Math.floor(random.next() * n)];
    means[r] = sum / n;
  }
  means.sort();
  return { low: quantile(means, (1 - confidence) / 2), high: quantile(means, (1 + confidence) / 2) };
}

function quantile(sorted: Float64Array, q: number): number {
  const position = q * (sorted.length - 1);
  const below = Math.floor(position);
  const above = Math.min(below + 1, sorted.length - 1);
  return sorted[below] + (sorted[above] - sorted[below]) * (position - below);
}

function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/**
 * The standard normal quantile (inverse CDF), by Peter Acklam's rational approximation: relative error
 * below 1.2e-9, far finer than any interval here needs.
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile needs p in (0, 1), got ${p}`);
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  let x: number;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p > 1 - low) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else {
    const q = p - 0.5;
    const r = q * q;
    x = ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  }
  return x;
}

import { InvalidInputError } from '../../errors.js';

/**
 * Expected calibration error of top-label confidences, as the `uncertainty-calibration` package
 * (p-lambda/verified_calibration) computes it: sum over bins of (bin size / n) · |mean confidence −
 * accuracy|. HELM's `ece_10_bin` is that package's `get_ece_em(max_probs, correct, num_bins=10)`, which
 * uses EQUAL-MASS bins; its `get_ece` uses equal-width bins. Both schemes are offered.
 *
 * - equal-width: bin upper edges i/B for i = 1..B.
 * - equal-mass: the confidences sorted and split into min(B, n) runs as numpy's `array_split` does (the
 *   first n mod B runs one longer); an edge lies midway between neighbouring runs, the last edge is 1,
 *   and duplicate edges merge (so ties can leave fewer bins).
 * A confidence goes to the first bin whose upper edge is >= it (numpy `searchsorted`, side left).
 */
export type CalibrationBinning = 'equal-mass' | 'equal-width';

export interface CalibrationOptions {
  /** Number of bins (default 10). */
  readonly bins?: number;
  /** Default 'equal-mass', HELM's ece_10_bin. */
  readonly binning?: CalibrationBinning;
}

/** One bin of a reliability diagram: its confidence range, item count, mean confidence and accuracy. */
export interface CalibrationBin {
  /** The previous bin's upper edge (0 for the first bin); confidences lie in (lower, upper]. */
  readonly lower: number;
  readonly upper: number;
  readonly count: number;
  /** NaN for an empty bin. */
  readonly meanConfidence: number;
  readonly accuracy: number;
}

/** The bins expectedCalibrationError sums over, for drawing a reliability diagram. */
export function calibrationBins(confidences: readonly number[], correct: readonly (boolean | number)[], options: CalibrationOptions = {}): CalibrationBin[] {
  const numBins = options.bins ?? 10;
  const binning = options.binning ?? 'equal-mass';
  if (confidences.length !== correct.length) throw new InvalidInputError('correct', `${correct.length} outcomes for ${confidences.length} confidences`);
  if (confidences.length === 0) throw new InvalidInputError('confidences', 'is empty: calibration needs at least one item');
  if (!Number.isInteger(numBins) || numBins < 1) throw new InvalidInputError('bins', `must be a positive integer, got ${numBins}`);
  confidences.forEach((p, i) => {
    if (!(p >= 0 && p <= 1)) throw new InvalidInputError(`confidences[${i}]`, `must lie in [0, 1], got ${p}`);
  });
  const outcomes = correct.map((c, i) => {
    const v = Number(c);
    if (v !== 0 && v !== 1) throw new InvalidInputError(`correct[${i}]`, `must be 0 or 1 (or a boolean), got ${String(c)}`);
    return v;
  });
  const edges = binning === 'equal-mass' ? equalMassEdges(confidences, numBins) : equalWidthEdges(numBins);
  const count = new Array<number>(edges.length).fill(0);
  const confidenceSum = new Array<number>(edges.length).fill(0);
  const correctSum = new Array<number>(edges.length).fill(0);
  confidences.forEach((p, i) => {
    const bin = searchsortedLeft(edges, p);
    count[bin]++;
    confidenceSum[bin] += p;
    correctSum[bin] += outcomes[i];
  });
  return edges.map((upper, b) => ({ lower: b === 0 ? 0 : edges[b - 1], upper, count: count[b], meanConfidence: confidenceSum[b] / count[b], accuracy: correctSum[b] / count[b] }));
}

export function expectedCalibrationError(confidences: readonly number[], correct: readonly (boolean | number)[], options: CalibrationOptions = {}): number {
  const bins = calibrationBins(confidences, correct, options);
  const n = confidences.length;
  let error = 0;
  for (const bin of bins) {
    if (bin.count === 0) continue;
    error += (bin.count / n) * Math.abs(bin.meanConfidence - bin.accuracy);
  }
  return error;
}

function equalWidthEdges(numBins: number): number[] {
  return Array.from({ length: numBins }, (_, i) => (i + 1) / numBins);
}

function equalMassEdges(confidences: readonly number[], numBins: number): number[] {
  const sorted = [...confidences].sort((a, b) => a - b);
  const parts = Math.min(numBins, sorted.length);
  const base = Math.floor(sorted.length / parts);
  const extra = sorted.length % parts;
  const edges: number[] = [];
  let start = 0;
  for (let i = 0; i < parts - 1; i++) {
    const end = start + base + (i < extra ? 1 : 0);
    edges.push((sorted[end - 1] + sorted[end]) / 2);
    start = end;
  }
  edges.push(1);
  return [...new Set(edges)].sort((a, b) => a - b);
}

/** Index of the first edge >= value; values above every edge fall in the last bin. */
function searchsortedLeft(edges: readonly number[], value: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (edges[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return Math.min(lo, edges.length - 1);
}

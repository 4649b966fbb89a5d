import { InvalidInputError } from '../../errors.js';
import { bleuTokenizer, type BleuTokenizerName } from './bleu-tokenizers.js';
import { checkReferences } from './references.js';
import { formatFixed } from './score-format.js';
import { formatSignature, referenceCountField } from './signature.js';
import { splitWhitespace, stripEnd } from './whitespace.js';

/**
 * BLEU (Papineni et al., 2002) as sacreBLEU 2.x computes it, with the same tokenizers, smoothing
 * methods (Chen & Cherry, 2014), closest-reference length and reference-count clipping over several
 * references, so scores and statistics equal sacreBLEU's.
 */

export const MAX_NGRAM_ORDER = 4;

export const SMOOTHING_METHODS = ['exp', 'floor', 'add-k', 'none'] as const;
export type SmoothingMethod = (typeof SMOOTHING_METHODS)[number];

/** The value each method uses when none is given; `exp` and `none` take no value. */
const SMOOTHING_DEFAULTS: Record<SmoothingMethod, number | undefined> = { exp: undefined, floor: 0.1, 'add-k': 1, none: undefined };

/** sacreBLEU's stand-in for log(0): a zero precision drives the score to 0 without a NaN. */
const LOG_ZERO = -9999999999;

export interface BleuOptions {
  /** Default `13a`. */
  tokenize?: BleuTokenizerName;
  /** Default `exp`. */
  smoothMethod?: SmoothingMethod;
  /** For `floor` (default 0.1) and `add-k` (default 1). */
  smoothValue?: number;
  lowercase?: boolean;
  /**
   * Average only the n-gram orders the hypothesis has (at most its length), so a short sentence is not
   * zeroed by an order it cannot contain. Off for corpus BLEU, on for sentence BLEU, as in sacreBLEU.
   */
  effectiveOrder?: boolean;
}

export interface BleuScore {
  /** 0-100. */
  score: number;
  /** Clipped n-gram matches per order 1..4 (after add-k smoothing, as sacreBLEU reports them). */
  counts: number[];
  /** Hypothesis n-grams per order 1..4. */
  totals: number[];
  /** Per-order precisions, 0-100. */
  precisions: number[];
  /** Brevity penalty. */
  bp: number;
  sysLen: number;
  refLen: number;
  /** sysLen / refLen, 0 when refLen is 0. */
  ratio: number;
  signature: string;
}

/** Sufficient statistics of one segment: lengths, then matches and totals per order. */
export interface BleuSegmentStatistics {
  sysLen: number;
  refLen: number;
  correct: number[];
  total: number[];
}

interface ResolvedOptions {
  tokenize: BleuTokenizerName;
  smoothMethod: SmoothingMethod;
  smoothValue: number | undefined;
  lowercase: boolean;
  effectiveOrder: boolean;
}

function resolveOptions(options: BleuOptions, effectiveOrderDefault: boolean): ResolvedOptions {
  const smoothMethod = options.smoothMethod ?? 'exp';
  if (!(SMOOTHING_METHODS as readonly string[]).includes(smoothMethod)) {
    throw new InvalidInputError('smooth', `unknown smoothing method "${smoothMethod}"; expected one of ${SMOOTHING_METHODS.join(', ')}`);
  }
  if (options.smoothValue !== undefined) {
    if (SMOOTHING_DEFAULTS[smoothMethod] === undefined) throw new InvalidInputError('smooth', `method "${smoothMethod}" takes no value`);
    if (!Number.isFinite(options.smoothValue) || options.smoothValue < 0) throw new InvalidInputError('smooth', `value must be a non-negative number, got ${options.smoothValue}`);
  }
  const tokenize = options.tokenize ?? '13a';
  bleuTokenizer(tokenize);
  return {
    tokenize,
    smoothMethod,
    smoothValue: options.smoothValue ?? SMOOTHING_DEFAULTS[smoothMethod],
    lowercase: options.lowercase ?? false,
    effectiveOrder: options.effectiveOrder ?? effectiveOrderDefault,
  };
}

/**
 * The n-grams of orders 1..4 with their counts, one map per order (index n - 1), and the token count.
 * An n-gram's key is its tokens joined by a space, which no token contains.
 */
function ngramCounts(line: string): { counts: Map<string, number>[]; length: number } {
  const tokens = splitWhitespace(line);
  const counts: Map<string, number>[] = [];
  for (let n = 1; n <= MAX_NGRAM_ORDER; n++) {
    const ofOrder = new Map<string, number>();
    for (let i = 0; i + n <= tokens.length; i++) {
      const key = tokens.slice(i, i + n).join(' ');
      ofOrder.set(key, (ofOrder.get(key) ?? 0) + 1);
    }
    counts.push(ofOrder);
  }
  return { counts, length: tokens.length };
}

/** The reference length closest to the hypothesis length; the shorter one on a tie. */
function closestReferenceLength(hypLength: number, refLengths: readonly number[]): number {
  let best = refLengths[0];
  for (const length of refLengths) {
    const diff = Math.abs(hypLength - length);
    const bestDiff = Math.abs(hypLength - best);
    if (diff < bestDiff || (diff === bestDiff && length < best)) best = length;
  }
  return best;
}

function segmentStats(hypothesis: string, references: readonly string[], options: ResolvedOptions): BleuSegmentStatistics {
  const tokenizer = bleuTokenizer(options.tokenize);
  const prepare = (text: string) => tokenizer(stripEnd(options.lowercase ? text.toLowerCase() : text));
  // An n-gram matches at most as often as it occurs in any single reference.
  const maxRefCounts = Array.from({ length: MAX_NGRAM_ORDER }, () => new Map<string, number>());
  const refLengths: number[] = [];
  for (const reference of references) {
    const { counts, length } = ngramCounts(prepare(reference));
    refLengths.push(length);
    counts.forEach((ofOrder, n) => {
      for (const [ngram, count] of ofOrder) maxRefCounts[n].set(ngram, Math.max(maxRefCounts[n].get(ngram) ?? 0, count));
    });
  }
  const hyp = ngramCounts(prepare(hypothesis));
  const correct = new Array<number>(MAX_NGRAM_ORDER).fill(0);
  const total = new Array<number>(MAX_NGRAM_ORDER).fill(0);
  hyp.counts.forEach((ofOrder, n) => {
    for (const [ngram, count] of ofOrder) {
      total[n] += count;
      const refCount = maxRefCounts[n].get(ngram);
      if (refCount !== undefined) correct[n] += Math.min(count, refCount);
    }
  });
  return { sysLen: hyp.length, refLen: closestReferenceLength(hyp.length, refLengths), correct, total };
}

function signatureOf(options: ResolvedOptions, referenceCounts: readonly number[]): string {
  let smooth: string = options.smoothMethod;
  if (options.smoothValue !== undefined) smooth += `[${formatFixed(options.smoothValue, 2)}]`;
  return formatSignature([
    ['nrefs', referenceCountField(referenceCounts)],
    ['case', options.lowercase ? 'lc' : 'mixed'],
    ['eff', options.effectiveOrder],
    ['tok', options.tokenize],
    ['smooth', smooth],
  ]);
}

/** The score from summed statistics, with sacreBLEU's smoothing and effective-order rules. */
function scoreFromStats(stats: BleuSegmentStatistics, options: ResolvedOptions, signature: string): BleuScore {
  const { sysLen, refLen } = stats;
  const correct = [...stats.correct];
  const total = [...stats.total];
  let bp = 1;
  if (sysLen < refLen) bp = sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0;
  const precisions = new Array<number>(MAX_NGRAM_ORDER).fill(0);
  const result = (score: number): BleuScore => ({ score, counts: correct, totals: total, precisions, bp, sysLen, refLen, ratio: refLen ? sysLen / refLen : 0, signature });
  if (!correct.some((c) => c !== 0)) return result(0);

  let expFactor = 1;
  let order = MAX_NGRAM_ORDER;
  for (let n = 1; n <= MAX_NGRAM_ORDER; n++) {
    if (options.smoothMethod === 'add-k' && n > 1) {
      correct[n - 1] += options.smoothValue!;
      total[n - 1] += options.smoothValue!;
    }
    if (total[n - 1] === 0) break;
    if (options.effectiveOrder) order = n;
    if (correct[n - 1] === 0) {
      if (options.smoothMethod === 'exp') {
        expFactor *= 2;
        precisions[n - 1] = 100 / (expFactor * total[n - 1]);
      } else if (options.smoothMethod === 'floor') {
        precisions[n - 1] = (100 * options.smoothValue!) / total[n - 1];
      }
    } else {
      precisions[n - 1] = (100 * correct[n - 1]) / total[n - 1];
    }
  }
  let logSum = 0;
  for (const p of precisions.slice(0, order)) logSum += p === 0 ? LOG_ZERO : Math.log(p);
  return result(bp * Math.exp(logSum / order));
}

/**
 * Corpus BLEU: n-gram statistics summed over all segments, then one score. `references[i]` holds the
 * references of `hypotheses[i]` (their number may vary, which the signature records as `nrefs:var`).
 */
export function corpusBleu(hypotheses: readonly string[], references: readonly (readonly string[])[], options: BleuOptions = {}): BleuScore {
  return corpusBleuFromStatistics(bleuSegmentStatistics(hypotheses, references, options), options, references.map((r) => r.length));
}

/**
 * Each segment's statistics, which corpus BLEU sums: a resample of segments (a bootstrap) is scored
 * from them with corpusBleuFromStatistics without tokenizing again, as sacreBLEU's own bootstrap does.
 */
export function bleuSegmentStatistics(hypotheses: readonly string[], references: readonly (readonly string[])[], options: BleuOptions = {}): BleuSegmentStatistics[] {
  checkReferences(hypotheses, references);
  const resolved = resolveOptions(options, false);
  return hypotheses.map((hypothesis, i) => segmentStats(hypothesis, references[i], resolved));
}

/** Corpus BLEU of segments' statistics; `referenceCounts` (references per segment) goes into the signature. */
export function corpusBleuFromStatistics(statistics: readonly BleuSegmentStatistics[], options: BleuOptions, referenceCounts: readonly number[]): BleuScore {
  const resolved = resolveOptions(options, false);
  const sum: BleuSegmentStatistics = { sysLen: 0, refLen: 0, correct: new Array<number>(MAX_NGRAM_ORDER).fill(0), total: new Array<number>(MAX_NGRAM_ORDER).fill(0) };
  for (const stats of statistics) {
    sum.sysLen += stats.sysLen;
    sum.refLen += stats.refLen;
    for (let n = 0; n < MAX_NGRAM_ORDER; n++) {
      sum.correct[n] += stats.correct[n];
      sum.total[n] += stats.total[n];
    }
  }
  return scoreFromStats(sum, resolved, signatureOf(resolved, referenceCounts));
}

/** Sentence BLEU of one hypothesis; effective order is on unless `options.effectiveOrder` is false. */
export function sentenceBleu(hypothesis: string, references: readonly string[], options: BleuOptions = {}): BleuScore {
  checkReferences([hypothesis], [references]);
  const resolved = resolveOptions(options, true);
  return scoreFromStats(segmentStats(hypothesis, references, resolved), resolved, signatureOf(resolved, [references.length]));
}

/** Throws InvalidInputError for an unknown tokenizer or smoothing method, or a smoothing value the method does not take. */
export function checkBleuOptions(options: BleuOptions): void {
  resolveOptions(options, false);
}

/** The signature of BLEU computed with these options over segments with these reference counts. */
export function bleuSignature(options: BleuOptions, referenceCounts: readonly number[], sentenceLevel = false): string {
  return signatureOf(resolveOptions(options, sentenceLevel), referenceCounts);
}

/** sacreBLEU's one-line report, e.g. `BLEU|nrefs:1|... = 26.30 58.1/32.0/19.6/12.4 (BP = 1.000 ratio = 1.010 hyp_len = 120 ref_len = 119)`. */
export function formatBleu(score: BleuScore, withSignature = true): string {
  const name = withSignature ? `BLEU|${score.signature}` : 'BLEU';
  const precisions = score.precisions.map((p) => formatFixed(p, 1)).join('/');
  return `${name} = ${formatFixed(score.score, 2)} ${precisions} (BP = ${formatFixed(score.bp, 3)} ratio = ${formatFixed(score.ratio, 3)} hyp_len = ${score.sysLen} ref_len = ${score.refLen})`;
}

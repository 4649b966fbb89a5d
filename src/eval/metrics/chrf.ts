import { InvalidInputError } from '../../errors.js';
import { checkReferences } from './references.js';
import { formatFixed } from './score-format.js';
import { formatSignature, referenceCountField } from './signature.js';
import { removeWhitespace, splitWhitespace } from './whitespace.js';

/**
 * chrF (Popović, 2015) and chrF++ (Popović, 2017; word order 2) as sacreBLEU 2.x computes them:
 * character n-grams of orders 1..6 (whitespace removed unless asked), optional word n-grams, the
 * F-beta of precision and recall averaged over the orders both sides have, and per segment the
 * reference that gives the best F.
 */

export interface ChrfOptions {
  /** Default 6. */
  charOrder?: number;
  /** Default 0 (chrF); 2 gives chrF++. */
  wordOrder?: number;
  /** Default 2: recall weighs twice as much as precision. */
  beta?: number;
  lowercase?: boolean;
  /** Keep whitespace inside character n-grams. */
  whitespace?: boolean;
  /** Add 1e-16 for orders a side lacks, as chrF++.py, NLTK and Moses do, instead of averaging the effective orders. */
  epsSmoothing?: boolean;
}

export interface ChrfScore {
  /** 0-100. */
  score: number;
  /** `chrF2`, `chrF2++`, ... as sacreBLEU names it. */
  name: string;
  signature: string;
}

/** Per order: hypothesis n-grams, reference n-grams, matches. */
type MatchStats = number[];

const EPSILON = 1e-16;

/** The ASCII punctuation chrF++ splits off the start or end of a word before counting word n-grams. */
const PUNCTUATION = new Set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');

interface ResolvedOptions {
  charOrder: number;
  wordOrder: number;
  beta: number;
  lowercase: boolean;
  whitespace: boolean;
  epsSmoothing: boolean;
}

function resolveOptions(options: ChrfOptions): ResolvedOptions {
  const resolved = {
    charOrder: options.charOrder ?? 6,
    wordOrder: options.wordOrder ?? 0,
    beta: options.beta ?? 2,
    lowercase: options.lowercase ?? false,
    whitespace: options.whitespace ?? false,
    epsSmoothing: options.epsSmoothing ?? false,
  };
  for (const field of ['charOrder', 'wordOrder', 'beta'] as const) {
    if (!Number.isInteger(resolved[field]) || resolved[field] < 0) throw new InvalidInputError(field, `must be a non-negative integer, got ${resolved[field]}`);
  }
  if (resolved.charOrder + resolved.wordOrder === 0) throw new InvalidInputError('charOrder', 'charOrder and wordOrder cannot both be 0');
  return resolved;
}

function countNgrams(units: readonly string[], n: number, separator: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= units.length; i++) {
    const key = units.slice(i, i + n).join(separator);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** Words with one leading or trailing ASCII punctuation mark split off (the trailing one first), as chrF++ does. */
function wordsWithPunctuationSplit(text: string): string[] {
  const words: string[] = [];
  for (const word of splitWhitespace(text)) {
    const chars = Array.from(word);
    if (chars.length === 1) words.push(word);
    else if (PUNCTUATION.has(chars[chars.length - 1])) words.push(chars.slice(0, -1).join(''), chars[chars.length - 1]);
    else if (PUNCTUATION.has(chars[0])) words.push(chars[0], chars.slice(1).join(''));
    else words.push(word);
  }
  return words;
}

/** Character n-gram counts for orders 1..charOrder, then word n-gram counts for orders 1..wordOrder. */
function allNgrams(text: string, options: ResolvedOptions): Map<string, number>[] {
  const chars = Array.from(options.whitespace ? text : removeWhitespace(text));
  const counts: Map<string, number>[] = [];
  for (let n = 1; n <= options.charOrder; n++) counts.push(countNgrams(chars, n, ''));
  if (options.wordOrder > 0) {
    const words = wordsWithPunctuationSplit(text);
    // Words contain no whitespace, so a space keeps word n-gram keys distinct.
    for (let n = 1; n <= options.wordOrder; n++) counts.push(countNgrams(words, n, ' '));
  }
  return counts;
}

function matchStats(hyp: Map<string, number>[], ref: Map<string, number>[]): MatchStats {
  const stats: MatchStats = [];
  hyp.forEach((hypCounts, order) => {
    const refCounts = ref[order];
    let hypTotal = 0;
    let matches = 0;
    for (const [ngram, count] of hypCounts) {
      hypTotal += count;
      const refCount = refCounts.get(ngram);
      if (refCount !== undefined) matches += Math.min(count, refCount);
    }
    let refTotal = 0;
    for (const count of refCounts.values()) refTotal += count;
    // sacreBLEU counts no hypothesis n-grams for an order the reference lacks.
    stats.push(refCounts.size > 0 ? hypTotal : 0, refTotal, matches);
  });
  return stats;
}

/** The F-beta score (0-100) of summed statistics. */
function fScore(stats: MatchStats, options: ResolvedOptions): number {
  const orders = options.charOrder + options.wordOrder;
  const factor = options.beta ** 2;
  let smoothedSum = 0;
  let precisionSum = 0;
  let recallSum = 0;
  let effectiveOrder = 0;
  for (let i = 0; i < orders; i++) {
    const [hypCount, refCount, matches] = stats.slice(3 * i, 3 * i + 3);
    const precision = hypCount > 0 ? matches / hypCount : EPSILON;
    const recall = refCount > 0 ? matches / refCount : EPSILON;
    const denominator = factor * precision + recall;
    smoothedSum += denominator > 0 ? ((1 + factor) * precision * recall) / denominator : EPSILON;
    if (hypCount > 0 && refCount > 0) {
      precisionSum += precision;
      recallSum += recall;
      effectiveOrder++;
    }
  }
  if (options.epsSmoothing) return (100 * smoothedSum) / orders;
  const precision = effectiveOrder === 0 ? 0 : precisionSum / effectiveOrder;
  const recall = effectiveOrder === 0 ? 0 : recallSum / effectiveOrder;
  if (precision + recall === 0) return 0;
  return 100 * (((1 + factor) * precision * recall) / (factor * precision + recall));
}

/** The statistics against the reference that scores best (the first of equals). */
function segmentStats(hypothesis: string, references: readonly string[], options: ResolvedOptions): MatchStats {
  const prepare = (text: string) => (options.lowercase ? text.toLowerCase() : text);
  const hyp = allNgrams(prepare(hypothesis), options);
  let best: MatchStats = [];
  let bestScore = -1;
  for (const reference of references) {
    const stats = matchStats(hyp, allNgrams(prepare(reference), options));
    const score = fScore(stats, options);
    if (score > bestScore) {
      bestScore = score;
      best = stats;
    }
  }
  return best;
}

function signatureOf(options: ResolvedOptions, referenceCounts: readonly number[]): string {
  return formatSignature([
    ['nrefs', referenceCountField(referenceCounts)],
    ['case', options.lowercase ? 'lc' : 'mixed'],
    ['eff', !options.epsSmoothing],
    ['nc', options.charOrder],
    ['nw', options.wordOrder],
    ['space', options.whitespace],
  ]);
}

function makeScore(stats: MatchStats, options: ResolvedOptions, referenceCounts: readonly number[]): ChrfScore {
  return { score: fScore(stats, options), name: `chrF${options.beta}${'+'.repeat(options.wordOrder)}`, signature: signatureOf(options, referenceCounts) };
}

/** Throws InvalidInputError for orders or beta that are not non-negative integers. */
export function checkChrfOptions(options: ChrfOptions): void {
  resolveOptions(options);
}

/** The signature of chrF computed with these options over segments with these reference counts. */
export function chrfSignature(options: ChrfOptions, referenceCounts: readonly number[]): string {
  return signatureOf(resolveOptions(options), referenceCounts);
}

/** Corpus chrF: statistics summed over segments, then one F score. `references[i]` holds the references of `hypotheses[i]`. */
export function corpusChrf(hypotheses: readonly string[], references: readonly (readonly string[])[], options: ChrfOptions = {}): ChrfScore {
  return corpusChrfFromStatistics(chrfSegmentStatistics(hypotheses, references, options), options, references.map((r) => r.length));
}

/** Each segment's n-gram statistics (against its best reference), which corpus chrF sums; see bleuSegmentStatistics. */
export function chrfSegmentStatistics(hypotheses: readonly string[], references: readonly (readonly string[])[], options: ChrfOptions = {}): number[][] {
  checkReferences(hypotheses, references);
  const resolved = resolveOptions(options);
  return hypotheses.map((hypothesis, i) => segmentStats(hypothesis, references[i], resolved));
}

/** Corpus chrF of segments' statistics; `referenceCounts` (references per segment) goes into the signature. */
export function corpusChrfFromStatistics(statistics: readonly (readonly number[])[], options: ChrfOptions, referenceCounts: readonly number[]): ChrfScore {
  const resolved = resolveOptions(options);
  const sum: MatchStats = new Array<number>(3 * (resolved.charOrder + resolved.wordOrder)).fill(0);
  for (const stats of statistics) stats.forEach((value, k) => (sum[k] += value));
  return makeScore(sum, resolved, referenceCounts);
}

export function sentenceChrf(hypothesis: string, references: readonly string[], options: ChrfOptions = {}): ChrfScore {
  checkReferences([hypothesis], [references]);
  const resolved = resolveOptions(options);
  return makeScore(segmentStats(hypothesis, references, resolved), resolved, [references.length]);
}

/** sacreBLEU's report line, e.g. `chrF2++|nrefs:1|... = 55.12`. */
export function formatChrf(score: ChrfScore, withSignature = true): string {
  return `${withSignature ? `${score.name}|${score.signature}` : score.name} = ${formatFixed(score.score, 2)}`;
}

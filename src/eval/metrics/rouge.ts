import { InvalidInputError } from '../../errors.js';
import { porterStem } from './porter-stemmer.js';
import { formatSignature, referenceCountField } from './signature.js';

/**
 * ROUGE (Lin, 2004) as Google's rouge-score 0.1.2 computes it: its tokenizer (lowercase, anything but
 * [a-z0-9] becomes a space, so CJK and accented letters drop out; optional Porter stemming of tokens
 * longer than 3 characters), ROUGE-N, ROUGE-L over the whole text, ROUGE-Lsum over newline-separated
 * sentences (summary-level union LCS), and against several references the best reference by F-measure.
 */

export interface RougeScore {
  precision: number;
  recall: number;
  fmeasure: number;
}

/** `rouge1`..`rouge9`, `rougeL`, `rougeLsum`, keyed in the order they were asked for. */
export type RougeScores = Record<string, RougeScore>;

export const DEFAULT_ROUGE_TYPES = ['rouge1', 'rouge2', 'rougeL', 'rougeLsum'] as const;

export interface RougeOptions {
  /** Default rouge1, rouge2, rougeL, rougeLsum. */
  types?: readonly string[];
  /** Porter-stem tokens longer than 3 characters, as rouge-score's use_stemmer. */
  stem?: boolean;
}

const ZERO: RougeScore = { precision: 0, recall: 0, fmeasure: 0 };

export function fmeasure(precision: number, recall: number): number {
  return precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
}

export function isRougeType(type: string): boolean {
  return /^rouge([1-9]|L|Lsum)$/.test(type);
}

function checkTypes(types: readonly string[]): void {
  if (types.length === 0) throw new InvalidInputError('types', 'needs at least one ROUGE type');
  for (const type of types) {
    if (!isRougeType(type)) throw new InvalidInputError('types', `unknown ROUGE type "${type}"; expected rouge1..rouge9, rougeL or rougeLsum`);
  }
}

/** rouge-score's tokens: lowercase, non-[a-z0-9] runs as separators, tokens longer than 3 characters stemmed if asked. */
export function rougeTokenize(text: string, stem = false): string[] {
  const tokens = text.toLowerCase().replace(/[^a-z0-9]+/gu, ' ').split(' ');
  return tokens.map((token) => (stem && token.length > 3 ? porterStem(token) : token)).filter((token) => /^[a-z0-9]+$/.test(token));
}

function ngramCounts(tokens: readonly string[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    // Tokens contain no spaces, so the joined key is unambiguous.
    const key = tokens.slice(i, i + n).join(' ');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

function scoreNgrams(target: readonly string[], prediction: readonly string[], n: number): RougeScore {
  const targetCounts = ngramCounts(target, n);
  const predictionCounts = ngramCounts(prediction, n);
  let overlap = 0;
  let targetTotal = 0;
  let predictionTotal = 0;
  for (const [ngram, count] of targetCounts) {
    overlap += Math.min(count, predictionCounts.get(ngram) ?? 0);
    targetTotal += count;
  }
  for (const count of predictionCounts.values()) predictionTotal += count;
  const precision = overlap / Math.max(predictionTotal, 1);
  const recall = overlap / Math.max(targetTotal, 1);
  return { precision, recall, fmeasure: fmeasure(precision, recall) };
}

/** The LCS length table: cell (i, j) holds the LCS length of ref[0, i) and can[0, j). */
function lcsTable(ref: readonly string[], can: readonly string[]): Int32Array[] {
  const table = Array.from({ length: ref.length + 1 }, () => new Int32Array(can.length + 1));
  for (let i = 1; i <= ref.length; i++) {
    for (let j = 1; j <= can.length; j++) {
      table[i][j] = ref[i - 1] === can[j - 1] ? table[i - 1][j - 1] + 1 : Math.max(table[i - 1][j], table[i][j - 1]);
    }
  }
  return table;
}

function scoreLcs(target: readonly string[], prediction: readonly string[]): RougeScore {
  if (target.length === 0 || prediction.length === 0) return ZERO;
  const length = lcsTable(target, prediction)[target.length][prediction.length];
  const precision = length / prediction.length;
  const recall = length / target.length;
  return { precision, recall, fmeasure: fmeasure(precision, recall) };
}

/**
 * The positions in `ref` of one longest common subsequence with `can`. Which one matters for ROUGE-Lsum:
 * this walks back from the end, taking a match when the tokens agree, else stepping in `can` only when
 * that keeps a strictly longer LCS, as rouge-score does.
 */
function lcsPositions(ref: readonly string[], can: readonly string[]): number[] {
  const table = lcsTable(ref, can);
  const positions: number[] = [];
  let i = ref.length;
  let j = can.length;
  while (i > 0 && j > 0) {
    if (ref[i - 1] === can[j - 1]) {
      positions.push(i - 1);
      i--;
      j--;
    } else if (table[i][j - 1] > table[i - 1][j]) j--;
    else i--;
  }
  return positions.reverse();
}

function countTokens(sentences: readonly (readonly string[])[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const sentence of sentences) for (const token of sentence) counts.set(token, (counts.get(token) ?? 0) + 1);
  return counts;
}

/**
 * Summary-level LCS (ROUGE paper section 3.2): for each reference sentence, the union of its LCS with
 * every candidate sentence; a token counts as a hit only while both sides have unused occurrences of it,
 * as ROUGE-1.5.5 does to avoid double counting.
 */
function scoreSummaryLcs(refSentences: readonly (readonly string[])[], canSentences: readonly (readonly string[])[]): RougeScore {
  if (refSentences.length === 0 || canSentences.length === 0) return ZERO;
  const refTotal = refSentences.reduce((n, s) => n + s.length, 0);
  const canTotal = canSentences.reduce((n, s) => n + s.length, 0);
  if (refTotal === 0 || canTotal === 0) return ZERO;
  const refCounts = countTokens(refSentences);
  const canCounts = countTokens(canSentences);
  let hits = 0;
  for (const ref of refSentences) {
    const union = new Set<number>();
    for (const can of canSentences) for (const position of lcsPositions(ref, can)) union.add(position);
    for (const position of [...union].sort((a, b) => a - b)) {
      const token = ref[position];
      if ((canCounts.get(token) ?? 0) > 0 && (refCounts.get(token) ?? 0) > 0) {
        hits++;
        canCounts.set(token, canCounts.get(token)! - 1);
        refCounts.set(token, refCounts.get(token)! - 1);
      }
    }
  }
  const precision = hits / canTotal;
  const recall = hits / refTotal;
  return { precision, recall, fmeasure: fmeasure(precision, recall) };
}

/** Sentences for ROUGE-Lsum: the non-empty lines. */
function sentencesOf(text: string, stem: boolean): string[][] {
  return text
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => rougeTokenize(line, stem));
}

/** ROUGE of one prediction against one target (reference). */
export function scoreRouge(target: string, prediction: string, options: RougeOptions = {}): RougeScores {
  const types = options.types ?? DEFAULT_ROUGE_TYPES;
  checkTypes(types);
  const stem = options.stem ?? false;
  const targetTokens = rougeTokenize(target, stem);
  const predictionTokens = rougeTokenize(prediction, stem);
  const scores: RougeScores = {};
  for (const type of types) {
    if (type === 'rougeL') scores[type] = scoreLcs(targetTokens, predictionTokens);
    else if (type === 'rougeLsum') scores[type] = scoreSummaryLcs(sentencesOf(target, stem), sentencesOf(prediction, stem));
    else scores[type] = scoreNgrams(targetTokens, predictionTokens, Number(type.slice(5)));
  }
  return scores;
}

/** Against several targets, per ROUGE type the target with the highest F-measure (the first of equals), as rouge-score's score_multi. */
export function scoreRougeMulti(targets: readonly string[], prediction: string, options: RougeOptions = {}): RougeScores {
  if (targets.length === 0) throw new InvalidInputError('references', 'needs at least one reference');
  const perTarget = targets.map((target) => scoreRouge(target, prediction, options));
  const best: RougeScores = {};
  for (const type of Object.keys(perTarget[0])) {
    let index = 0;
    perTarget.forEach((scores, i) => {
      if (scores[type].fmeasure > perTarget[index][type].fmeasure) index = i;
    });
    best[type] = perTarget[index][type];
  }
  return best;
}

export interface RougeCorpusResult {
  /** Per type, precision, recall and F-measure averaged over the rows. */
  mean: RougeScores;
  items: RougeScores[];
  signature: string;
}

/** ROUGE of each row (best reference per type) and the averages over rows. `references[i]` holds the references of `predictions[i]`. */
export function corpusRouge(predictions: readonly string[], references: readonly (readonly string[])[], options: RougeOptions = {}): RougeCorpusResult {
  if (predictions.length !== references.length) {
    throw new InvalidInputError('references', `${references.length} reference lists for ${predictions.length} predictions`);
  }
  if (predictions.length === 0) throw new InvalidInputError('predictions', 'needs at least one prediction');
  const types = options.types ?? DEFAULT_ROUGE_TYPES;
  const items = predictions.map((prediction, i) => {
    if (references[i].length === 0) throw new InvalidInputError(`references[${i}]`, 'needs at least one reference');
    return scoreRougeMulti(references[i], prediction, options);
  });
  const mean: RougeScores = {};
  for (const type of types) {
    const sum = { precision: 0, recall: 0, fmeasure: 0 };
    for (const item of items) {
      sum.precision += item[type].precision;
      sum.recall += item[type].recall;
      sum.fmeasure += item[type].fmeasure;
    }
    mean[type] = { precision: sum.precision / items.length, recall: sum.recall / items.length, fmeasure: sum.fmeasure / items.length };
  }
  return { mean, items, signature: rougeSignature(references.map((r) => r.length), options.stem ?? false) };
}

/**
 * A signature in sacreBLEU's style for ROUGE: the reference count, `tok:rouge-score` for rouge-score's
 * tokenizer (lowercased), whether tokens were stemmed, and how ROUGE-Lsum split sentences.
 */
export function rougeSignature(referenceCounts: readonly number[], stem: boolean): string {
  return formatSignature([
    ['nrefs', referenceCountField(referenceCounts)],
    ['case', 'lc'],
    ['tok', 'rouge-score'],
    ['stem', stem],
    ['lsum', 'newline'],
  ]);
}

import { InvalidInputError } from '../../errors.js';
import { pythonSplit } from '../python-text.js';

/**
 * SQuAD v1.1's answer metrics as its official evaluation script defines them: answers are normalised
 * (lower-cased, ASCII punctuation removed, the articles a/an/the removed, whitespace collapsed), then
 * compared exactly or by bag-of-tokens F1, taking the best over the reference answers.
 */

/** Python's `string.punctuation`. */
const ASCII_PUNCTUATION = new Set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');
/** `\b(a|an|the)\b` with Python's Unicode word characters (letters, numbers, underscore). */
const ARTICLES = /(?<![\p{L}\p{N}_])(?:a|an|the)(?![\p{L}\p{N}_])/gu;

export function normalizeSquadAnswer(text: string): string {
  const lowered = text.toLowerCase();
  let withoutPunctuation = '';
  for (const char of lowered) if (!ASCII_PUNCTUATION.has(char)) withoutPunctuation += char;
  return pythonSplit(withoutPunctuation.replace(ARTICLES, ' ')).join(' ');
}

/** 1 when the normalised prediction equals some normalised reference, else 0. */
export function squadExactMatch(prediction: string, references: readonly string[]): number {
  requireReferences(references);
  const normalized = normalizeSquadAnswer(prediction);
  return references.some((reference) => normalizeSquadAnswer(reference) === normalized) ? 1 : 0;
}

/** Best token-overlap F1 of the prediction against any reference. */
export function squadTokenF1(prediction: string, references: readonly string[]): number {
  requireReferences(references);
  const predicted = normalizeSquadAnswer(prediction).split(' ').filter((t) => t !== '');
  return Math.max(...references.map((reference) => tokenF1(predicted, normalizeSquadAnswer(reference).split(' ').filter((t) => t !== ''))));
}

function tokenF1(predicted: readonly string[], reference: readonly string[]): number {
  const counts = new Map<string, number>();
  for (const token of reference) counts.set(token, (counts.get(token) ?? 0) + 1);
  let same = 0;
  for (const token of predicted) {
    const left = counts.get(token) ?? 0;
    if (left > 0) {
      same++;
      counts.set(token, left - 1);
    }
  }
  if (same === 0) return 0;
  const precision = same / predicted.length;
  const recall = same / reference.length;
  return (2 * precision * recall) / (precision + recall);
}

function requireReferences(references: readonly string[]): void {
  if (references.length === 0) throw new InvalidInputError('references', 'is empty: an answer needs at least one reference');
}

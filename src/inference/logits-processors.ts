import { InvalidInputError } from '../errors.js';

/**
 * The logits processors of Hugging Face's `generate` that tuneloop supports, with their rules as in
 * transformers 4.35. Each row's sequence is what Hugging Face calls `input_ids`: the left padding, the
 * prompt and the tokens generated so far, so pad tokens count like any other token.
 */
export interface LogitsProcessing {
  /**
   * Penalty for every token already in the sequence (RepetitionPenaltyLogitsProcessor): its score is
   * divided by the penalty when positive and multiplied by it when negative. Greater than 0; 1 is off.
   */
  readonly repetitionPenalty?: number;
  /**
   * Bans any token that would complete an n-gram of this size already in the sequence
   * (NoRepeatNGramLogitsProcessor). A positive integer; 0 is off.
   */
  readonly noRepeatNgramSize?: number;
  /**
   * Bans the end-of-sequence token until this many tokens have been generated
   * (MinNewTokensLengthLogitsProcessor). Counted from the padded prompt length, so in a batch every row
   * counts the same steps. A non-negative integer; 0 is off.
   */
  readonly minNewTokens?: number;
}

/** The name to give each setting in errors: the library's option names, or a command's flags. */
export type LogitsProcessingNames = Record<keyof LogitsProcessing, string>;

const OPTION_NAMES: LogitsProcessingNames = {
  repetitionPenalty: 'repetitionPenalty',
  noRepeatNgramSize: 'noRepeatNgramSize',
  minNewTokens: 'minNewTokens',
};

export function validateLogitsProcessing(processing: LogitsProcessing, names: LogitsProcessingNames = OPTION_NAMES): void {
  const { repetitionPenalty, noRepeatNgramSize, minNewTokens } = processing;
  if (repetitionPenalty !== undefined && !(repetitionPenalty > 0 && Number.isFinite(repetitionPenalty))) {
    throw new InvalidInputError(names.repetitionPenalty, `must be a positive number (1 turns it off), got ${repetitionPenalty}`);
  }
  if (noRepeatNgramSize !== undefined && !(Number.isSafeInteger(noRepeatNgramSize) && noRepeatNgramSize >= 0)) {
    throw new InvalidInputError(names.noRepeatNgramSize, `must be a non-negative integer (0 turns it off), got ${noRepeatNgramSize}`);
  }
  if (minNewTokens !== undefined && !(Number.isSafeInteger(minNewTokens) && minNewTokens >= 0)) {
    throw new InvalidInputError(names.minNewTokens, `must be a non-negative integer, got ${minNewTokens}`);
  }
}

/** True when some processor would change scores, so the raw logits need a processed copy. */
export function processesLogits(processing: LogitsProcessing, eosTokenId: number | null | undefined): boolean {
  return (
    (processing.repetitionPenalty !== undefined && processing.repetitionPenalty !== 1) ||
    (processing.noRepeatNgramSize ?? 0) > 0 ||
    ((processing.minNewTokens ?? 0) > 0 && eosTokenId !== null && eosTokenId !== undefined)
  );
}

/**
 * Applies the processors to one row of scores in place, in Hugging Face's order: repetition penalty,
 * no-repeat n-grams, minimum new tokens. `generated` is how many tokens the row's sequence has beyond the
 * padded prompt.
 */
export function processLogits(
  scores: Float32Array,
  sequence: readonly number[],
  generated: number,
  eosTokenId: number | null | undefined,
  processing: LogitsProcessing,
): void {
  const { repetitionPenalty, noRepeatNgramSize = 0, minNewTokens = 0 } = processing;
  if (repetitionPenalty !== undefined && repetitionPenalty !== 1) applyRepetitionPenalty(scores, sequence, repetitionPenalty);
  if (noRepeatNgramSize > 0) {
    for (const token of bannedNgramTokens(sequence, noRepeatNgramSize)) scores[token] = -Infinity;
  }
  if (generated < minNewTokens && eosTokenId !== null && eosTokenId !== undefined) scores[eosTokenId] = -Infinity;
}

/**
 * Each distinct token is penalised once, however often it occurs. Hugging Face computes in float32 with the
 * penalty cast to float32; one float64 operation on float32 values rounded back to float32 gives the same
 * result, so the scores match bit for bit.
 */
function applyRepetitionPenalty(scores: Float32Array, sequence: readonly number[], penalty: number): void {
  const p = Math.fround(penalty);
  for (const token of new Set(sequence)) {
    const score = scores[token];
    scores[token] = score < 0 ? score * p : score / p;
  }
}

/**
 * The tokens that would end an n-gram already in the sequence: for every earlier occurrence of the
 * sequence's last n−1 tokens, the token that followed it. Nothing is banned before the sequence holds n−1
 * tokens; with n = 1 every token of the sequence is banned.
 */
export function bannedNgramTokens(sequence: readonly number[], n: number): Set<number> {
  const banned = new Set<number>();
  const length = sequence.length;
  if (length + 1 < n) return banned;
  const tail = length - (n - 1);
  for (let start = 0; start + n <= length; start++) {
    let matches = true;
    for (let k = 0; k < n - 1 && matches; k++) matches = sequence[start + k] === sequence[tail + k];
    if (matches) banned.add(sequence[start + n - 1]);
  }
  return banned;
}

/**
 * TRL preference pairs (src/align/preference-pairs.ts) tokenized into the batch a reward-model step runs: chosen and rejected rows in one batch of 2B rows,
 * each row the prompt's tokens followed by the completion's, right-padded, with a mask.
 */
import { InvalidInputError } from '../../errors.js';
import type { ModelInputs } from '../../train/bloom-backward.js';
import type { PreferencePair } from '../preference-pairs.js';

/** Rows 0..pairs-1 are the chosen completions, rows pairs..2·pairs-1 the rejected ones, in pair order. */
export interface RewardBatch extends ModelInputs {
  readonly pairs: number;
  readonly seqLen: number;
  /** One margin per pair, when every pair has one (RewardTrainer's margin column). */
  readonly margin?: Float32Array;
}

/**
 * Tokenizes pairs into one batch. The prompt and each completion are encoded separately and joined, as
 * trl's reward collator does with prompt+completion, so the chosen and rejected rows share the prompt's tokens.
 * Margins are used only when every pair has one: a margin on some pairs and not others has no meaning in the loss.
 */
export function rewardBatch(pairs: readonly PreferencePair[], encode: (text: string) => number[], padTokenId: number): RewardBatch {
  if (pairs.length === 0) throw new InvalidInputError('pairs', 'is empty: a reward batch needs at least one pair');
  const rows = [...pairs.map((p) => [...encode(p.prompt), ...encode(p.chosen)]), ...pairs.map((p) => [...encode(p.prompt), ...encode(p.rejected)])];
  const seqLen = Math.max(...rows.map((r) => r.length));
  const ids = new Int32Array(rows.length * seqLen).fill(padTokenId);
  const mask = new Uint8Array(rows.length * seqLen);
  rows.forEach((row, r) => {
    ids.set(row, r * seqLen);
    mask.fill(1, r * seqLen, r * seqLen + row.length);
  });
  const withMargin = pairs.every((p) => p.margin !== undefined);
  return { ids, mask, batch: rows.length, seqLen, pairs: pairs.length, ...(withMargin ? { margin: Float32Array.from(pairs, (p) => p.margin!) } : {}) };
}

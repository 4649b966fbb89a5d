/**
 * TRL preference pairs (JSONL `{"prompt", "chosen", "rejected"}`, optional `margin`, other keys ignored)
 * read into the token batch a reward-model step runs: chosen and rejected rows in one batch of 2B rows,
 * each row the prompt's tokens followed by the completion's, right-padded, with a mask.
 */
import { readFileSync } from 'node:fs';
import { DatasetError, InvalidInputError } from '../../errors.js';
import type { ModelInputs } from '../../train/bloom-backward.js';

export interface RewardPair {
  readonly prompt: string;
  readonly chosen: string;
  readonly rejected: string;
  readonly margin?: number;
}

/** Rows 0..pairs-1 are the chosen completions, rows pairs..2·pairs-1 the rejected ones, in pair order. */
export interface RewardBatch extends ModelInputs {
  readonly pairs: number;
  readonly seqLen: number;
  /** One margin per pair, when every pair has one (RewardTrainer's margin column). */
  readonly margin?: Float32Array;
}

const TEXT_FIELDS = ['prompt', 'chosen', 'rejected'] as const;

/** Parses pair JSONL; every error names the file, the line and the field. */
export function parseRewardPairs(text: string, file: string): RewardPair[] {
  const pairs: RewardPair[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    let record: unknown;
    try {
      record = JSON.parse(raw);
    } catch (cause) {
      throw new DatasetError(file, 'is not valid JSON', { line }, { cause });
    }
    if (typeof record !== 'object' || record === null || Array.isArray(record)) throw new DatasetError(file, 'must be a JSON object', { line });
    const fields = record as Record<string, unknown>;
    for (const field of TEXT_FIELDS) {
      if (!(field in fields)) throw new DatasetError(file, 'is missing', { line, field });
      if (typeof fields[field] !== 'string') throw new DatasetError(file, 'must be a string', { line, field });
    }
    // The prompt may be empty (trl's implicit-prompt pairs); a completion may not: it is what gets the reward.
    for (const field of ['chosen', 'rejected'] as const) {
      if ((fields[field] as string).trim() === '') throw new DatasetError(file, 'is empty', { line, field });
    }
    if (fields.chosen === fields.rejected) throw new DatasetError(file, 'is identical to "chosen": the pair expresses no preference', { line, field: 'rejected' });
    const margin = fields.margin;
    if (margin !== undefined && margin !== null && (typeof margin !== 'number' || !Number.isFinite(margin))) {
      throw new DatasetError(file, 'must be a finite number', { line, field: 'margin' });
    }
    pairs.push({ prompt: fields.prompt as string, chosen: fields.chosen as string, rejected: fields.rejected as string, ...(typeof margin === 'number' ? { margin } : {}) });
  });
  if (pairs.length === 0) throw new DatasetError(file, 'holds no preference pairs');
  return pairs;
}

export function readRewardPairs(path: string): RewardPair[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new DatasetError(path, 'cannot be read', {}, { cause });
  }
  return parseRewardPairs(text, path);
}

/**
 * Tokenizes pairs into one batch. The prompt and each completion are encoded separately and joined, as
 * trl's reward collator does with prompt+completion, so the chosen and rejected rows share the prompt's tokens.
 * Margins are used only when every pair has one: a margin on some pairs and not others has no meaning in the loss.
 */
export function rewardBatch(pairs: readonly RewardPair[], encode: (text: string) => number[], padTokenId: number): RewardBatch {
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

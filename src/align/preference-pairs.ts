/**
 * TRL preference pairs, the data every alignment method here reads: JSONL `{"prompt", "chosen",
 * "rejected"}` with an optional `margin` (RewardTrainer's) and `source` (who judged: a person, the
 * simulated rater, a judge model); other keys are ignored.
 */
import { readFileSync } from 'node:fs';
import { DatasetError } from '../errors.js';
import { parseJsonlObjects } from '../formats/jsonl.js';

export interface PreferencePair {
  readonly prompt: string;
  readonly chosen: string;
  readonly rejected: string;
  readonly margin?: number;
  readonly source?: string;
}

/** Parses pair JSONL; every error names the file, the line and the field. */
export function parsePreferencePairs(text: string, file: string): PreferencePair[] {
  const pairs = parseJsonlObjects(text, file).map(({ fields, line }) => {
    for (const field of ['prompt', 'chosen', 'rejected'] as const) {
      if (!(field in fields)) throw new DatasetError(file, 'is missing', { line, field });
      if (typeof fields[field] !== 'string') throw new DatasetError(file, 'must be a string', { line, field });
    }
    // The prompt may be empty (trl's implicit-prompt pairs); a completion may not: it is what is judged.
    for (const field of ['chosen', 'rejected'] as const) {
      if ((fields[field] as string).trim() === '') throw new DatasetError(file, 'is empty', { line, field });
    }
    if (fields.chosen === fields.rejected) throw new DatasetError(file, 'is identical to "chosen": the pair expresses no preference', { line, field: 'rejected' });
    const { margin, source } = fields;
    if (margin !== undefined && margin !== null && (typeof margin !== 'number' || !Number.isFinite(margin))) {
      throw new DatasetError(file, 'must be a finite number', { line, field: 'margin' });
    }
    if (source !== undefined && source !== null && typeof source !== 'string') throw new DatasetError(file, 'must be a string', { line, field: 'source' });
    return {
      prompt: fields.prompt as string,
      chosen: fields.chosen as string,
      rejected: fields.rejected as string,
      ...(typeof margin === 'number' ? { margin } : {}),
      ...(typeof source === 'string' ? { source } : {}),
    };
  });
  if (pairs.length === 0) throw new DatasetError(file, 'holds no preference pairs');
  return pairs;
}

export function readPreferencePairs(path: string): PreferencePair[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new DatasetError(path, 'cannot be read', {}, { cause });
  }
  return parsePreferencePairs(text, path);
}

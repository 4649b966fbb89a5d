/**
 * TRL preference pairs from a ranking: one JSONL line per pair of completions in different classes,
 * `{"prompt", "chosen", "rejected", "source", "margin"}`, the columns trl's DPOTrainer and RewardTrainer read
 * (`margin` is what RewardTrainer adds to the Bradley-Terry loss; here the difference of class scores, 1 or 2).
 * Completions in the same class give no pair: the rater has no preference between them, and a pair made by the
 * tie-breaking coin would teach a model noise.
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { DatasetError } from '../../errors.js';
import type { Ranking } from './rater.js';

export interface PreferencePair {
  readonly prompt: string;
  readonly chosen: string;
  readonly rejected: string;
  readonly source: string;
  readonly margin: number;
}

export function preferencePairs(ranking: Ranking): PreferencePair[] {
  const pairs: PreferencePair[] = [];
  ranking.ranked.forEach((better, i) => {
    for (const worse of ranking.ranked.slice(i + 1)) {
      if (better.score > worse.score) {
        pairs.push({ prompt: ranking.prompt, chosen: better.completion, rejected: worse.completion, source: ranking.source, margin: better.score - worse.score });
      }
    }
  });
  return pairs;
}

/** Writes `pairs` as JSONL through a temporary file renamed into place, so a reader never sees half a file. */
export function writePreferencePairs(path: string, pairs: readonly PreferencePair[]): void {
  const staging = `${path}.tmp-${process.pid}`;
  const text = pairs.map((pair) => JSON.stringify({ prompt: pair.prompt, chosen: pair.chosen, rejected: pair.rejected, source: pair.source, margin: pair.margin }) + '\n').join('');
  try {
    writeFileSync(staging, text);
    renameSync(staging, path);
  } catch (cause) {
    rmSync(staging, { force: true });
    throw new DatasetError(path, 'cannot be written', {}, { cause });
  }
}

const PAIR_FIELDS = ['prompt', 'chosen', 'rejected', 'source'] as const;

/** Reads pairs written by writePreferencePairs (or by hand), checking every field by line. */
export function parsePreferencePairs(text: string, file: string): PreferencePair[] {
  const pairs: PreferencePair[] = [];
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
    for (const field of PAIR_FIELDS) {
      if (typeof fields[field] !== 'string' || (fields[field] as string).trim() === '') throw new DatasetError(file, 'must be a non-empty string', { line, field });
    }
    if (typeof fields.margin !== 'number' || !Number.isFinite(fields.margin)) throw new DatasetError(file, 'must be a finite number', { line, field: 'margin' });
    pairs.push({ prompt: fields.prompt as string, chosen: fields.chosen as string, rejected: fields.rejected as string, source: fields.source as string, margin: fields.margin });
  });
  return pairs;
}

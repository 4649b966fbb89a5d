/**
 * TRL preference pairs from a ranking: one JSONL line per pair of completions in different classes,
 * `{"prompt", "chosen", "rejected", "source", "margin"}`, the columns trl's DPOTrainer and RewardTrainer read
 * (`margin` is what RewardTrainer adds to the Bradley-Terry loss; here the difference of class scores, 1 or 2).
 * Completions in the same class give no pair: the rater has no preference between them, and a pair made by the
 * tie-breaking coin would teach a model noise.
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { DatasetError } from '../../errors.js';
import type { PreferencePair } from '../preference-pairs.js';
import type { Ranking } from './rater.js';

/** A pair as the rater writes it: its source and margin always set. */
export type RatedPair = PreferencePair & { readonly source: string; readonly margin: number };

export function preferencePairs(ranking: Ranking): RatedPair[] {
  const pairs: RatedPair[] = [];
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
export function writePreferencePairs(path: string, pairs: readonly RatedPair[]): void {
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

/**
 * The MMLU items the `mmlu` benchmark scores, as token ids in a JSON file that tuneloop
 * (bench/worker.ts) and the PyTorch peer (bench/peer/mmlu_peer.py) both read, so both score identical
 * inputs. Prompts are built by the benchmark runner (lm-eval's MMLU template, 5-shot from the first dev
 * questions) from the real CSV files the `mmlu` suite finds: the four subjects ship in data/benchmarks/mmlu.
 *
 * The random BLOOM-560m checkpoint has no tokenizer, and BLOOM's own is not available offline, so the
 * text is encoded with the project's BLOOM-style test tokenizer (test/fixtures/tokenizer, 2,000 tokens;
 * its ids are valid in the 250,880-token vocabulary). It splits text into somewhat more tokens than
 * BLOOM's, so prompts are somewhat longer than a real bloom-560m would see.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { LoglikelihoodRequest } from '../src/inference/score.js';
import { buildRequests, prepareTasks } from '../src/eval/benchmarks/runner.js';
import { resolveSuite } from '../src/eval/benchmarks/suites.js';
import { loadTokenizer } from '../src/tokenizer/tokenizer.js';

/** Four subjects of short to middling prompt length (about 400 to 700 tokens at 5 shots). */
export const MMLU_SUBJECTS = ['world_religions', 'anatomy', 'global_facts', 'high_school_geography'] as const;
export const MMLU_ITEMS_PER_SUBJECT = 6;
export const MMLU_SHOTS = 5;
/** The longest input scored, as the benchmark runner's default. */
export const MMLU_MAX_LENGTH = 2048;

export interface MmluBenchItem {
  readonly task: string;
  readonly gold: number;
  /** One loglikelihood request per choice, " A".." D". */
  readonly requests: readonly LoglikelihoodRequest[];
}

export interface MmluBenchItems {
  readonly format: 'tuneloop-bench-mmlu-items';
  readonly shots: number;
  readonly max_length: number;
  readonly tokenizer: string;
  readonly items: readonly MmluBenchItem[];
}

/** Builds the items from the MMLU data (shipped in data/benchmarks/mmlu) and writes them to `file`. */
export async function writeMmluItems(file: string): Promise<MmluBenchItems> {
  const tokenizerDir = 'test/fixtures/tokenizer';
  const tokenizer = await loadTokenizer(tokenizerDir);
  const { suite } = resolveSuite('mmlu');
  const tasks = await prepareTasks(suite, { tasks: ['mmlu'], subsets: [...MMLU_SUBJECTS], shots: MMLU_SHOTS, limit: MMLU_ITEMS_PER_SUBJECT });
  const items = tasks.flatMap((task) => {
    const requests = buildRequests(tokenizer, task.items, task.definition.targetDelimiter);
    return task.items.map((item, i) => ({ task: task.name, gold: item.gold, requests: requests[i] }));
  });
  const written: MmluBenchItems = { format: 'tuneloop-bench-mmlu-items', shots: MMLU_SHOTS, max_length: MMLU_MAX_LENGTH, tokenizer: tokenizerDir, items };
  writeFileSync(file, `${JSON.stringify(written)}\n`);
  return written;
}

export function readMmluItems(file: string): MmluBenchItems {
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as MmluBenchItems;
  if (parsed.format !== 'tuneloop-bench-mmlu-items') throw new Error(`${file}: not a tuneloop-bench-mmlu-items file`);
  // Files from before the keys were snake_case say maxLength; bench/run.ts writes the file afresh each run.
  if (typeof parsed.max_length !== 'number') throw new Error(`${file}: max_length is missing (an items file of an older tuneloop?); write it again with node dist/bench/worker.js mmlu-items ${file}`);
  return parsed;
}

import { createHash } from 'node:crypto';
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { LoglikelihoodRequest } from '../../inference/score.js';

/** What the cache keeps of a scored request: enough for every metric, not the per-token log-probs. */
export interface CachedScore {
  readonly logLikelihood: number;
  readonly isGreedy: boolean;
}

/** A request's cache key: its token ids and the window it was scored in. */
export function requestKey(request: LoglikelihoodRequest, maxLength: number): string {
  return createHash('sha256')
    .update(JSON.stringify([maxLength, request.context, request.continuation]))
    .digest('hex')
    .slice(0, 32);
}

/**
 * Model outputs on disk, one JSON Lines file per (model hash, adapter hash): a rerun finds every
 * request already scored, and a killed run loses at most the batch in flight. Lines are appended as
 * batches finish; a torn last line (the process died mid-write) is ignored.
 */
export class ScoreCache {
  private readonly entries = new Map<string, CachedScore>();
  readonly file: string | undefined;

  constructor(dir: string | undefined, modelHash: string, adapterHash: string | null) {
    if (dir === undefined) return;
    mkdirSync(dir, { recursive: true });
    this.file = join(dir, `${modelHash.slice(0, 16)}-${adapterHash ? adapterHash.slice(0, 16) : 'base'}.jsonl`);
    if (!existsSync(this.file)) return;
    for (const line of readFileSync(this.file, 'utf8').split('\n')) {
      if (line === '') continue;
      try {
        const { k, ll, g } = JSON.parse(line) as { k: string; ll: number; g: boolean };
        if (typeof k === 'string' && typeof ll === 'number') this.entries.set(k, { logLikelihood: ll, isGreedy: g === true });
      } catch {
        // A line cut short by a killed run: that request is scored again.
      }
    }
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string): CachedScore | undefined {
    return this.entries.get(key);
  }

  putMany(scores: readonly { key: string; score: CachedScore }[]): void {
    for (const { key, score } of scores) this.entries.set(key, score);
    if (this.file && scores.length > 0) appendFileSync(this.file, scores.map(({ key, score }) => `${JSON.stringify({ k: key, ll: score.logLikelihood, g: score.isGreedy })}\n`).join(''));
  }
}

/**
 * sha256 over a checkpoint or adapter directory's config and weight files (names and bytes, sorted by
 * name). Hashing gigabytes takes seconds, so the result is remembered in `memoDir` against each file's
 * size and modification time.
 */
export function hashModelDirectory(dir: string, memoDir?: string): string {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json') || f.endsWith('.safetensors') || f.endsWith('.bin'))
    .filter((f) => !f.startsWith('tokenizer') && f !== 'special_tokens_map.json' && f !== 'checkpoint_meta.json')
    .sort();
  const stamp = JSON.stringify(files.map((f) => [f, statSync(join(dir, f)).size, statSync(join(dir, f)).mtimeMs]));
  const memoFile = memoDir ? join(memoDir, 'hashes.json') : undefined;
  let memo: Record<string, { stamp: string; sha256: string }> = {};
  if (memoFile && existsSync(memoFile)) {
    try {
      memo = JSON.parse(readFileSync(memoFile, 'utf8'));
    } catch {
      memo = {};
    }
  }
  const id = resolve(dir);
  if (memo[id]?.stamp === stamp) return memo[id].sha256;
  const hash = createHash('sha256');
  const buffer = Buffer.alloc(1 << 22);
  for (const f of files) {
    hash.update(`${f}\0`);
    const fd = openSync(join(dir, f), 'r');
    try {
      for (let n = readSync(fd, buffer); n > 0; n = readSync(fd, buffer)) hash.update(buffer.subarray(0, n));
    } finally {
      closeSync(fd);
    }
  }
  const sha256 = hash.digest('hex');
  if (memoFile) {
    mkdirSync(memoDir!, { recursive: true });
    memo[id] = { stamp, sha256 };
    writeFileSync(memoFile, JSON.stringify(memo, null, 1));
  }
  return sha256;
}

/** What the cache keeps of a generation: the decoded new text (stop strings not yet cut), its token count and why it ended. */
export interface CachedGeneration {
  readonly text: string;
  readonly tokens: number;
  readonly finishReason: string;
}

/** A generation's cache key: the prompt's token ids and every setting that changes the output. */
export function generationKey(prompt: readonly number[], settings: { readonly until: readonly string[]; readonly maxNewTokens: number }): string {
  return createHash('sha256')
    .update(JSON.stringify(['generate', 'greedy', settings.maxNewTokens, settings.until, prompt]))
    .digest('hex')
    .slice(0, 32);
}

/**
 * Generations on disk beside the scores, one JSON Lines file per (model hash, adapter hash), appended
 * batch by batch: a rerun generates nothing again and a killed run resumes. A torn last line is ignored.
 */
export class GenerationCache {
  private readonly entries = new Map<string, CachedGeneration>();
  readonly file: string | undefined;

  constructor(dir: string | undefined, modelHash: string, adapterHash: string | null) {
    if (dir === undefined) return;
    mkdirSync(dir, { recursive: true });
    this.file = join(dir, `${modelHash.slice(0, 16)}-${adapterHash ? adapterHash.slice(0, 16) : 'base'}.generations.jsonl`);
    if (!existsSync(this.file)) return;
    for (const line of readFileSync(this.file, 'utf8').split('\n')) {
      if (line === '') continue;
      try {
        const { k, text, n, f } = JSON.parse(line) as { k: unknown; text: unknown; n: unknown; f: unknown };
        if (typeof k === 'string' && typeof text === 'string' && typeof n === 'number' && typeof f === 'string') this.entries.set(k, { text, tokens: n, finishReason: f });
      } catch {
        // A line cut short by a killed run: that prompt is generated again.
      }
    }
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string): CachedGeneration | undefined {
    return this.entries.get(key);
  }

  putMany(generations: readonly { key: string; generation: CachedGeneration }[]): void {
    for (const { key, generation } of generations) this.entries.set(key, generation);
    if (this.file && generations.length > 0) {
      appendFileSync(this.file, generations.map(({ key, generation: g }) => `${JSON.stringify({ k: key, text: g.text, n: g.tokens, f: g.finishReason })}\n`).join(''));
    }
  }
}

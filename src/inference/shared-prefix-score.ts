import type { KvCache } from '../models/bloom/kv-cache.js';
import type { CausalLM } from '../models/causal-lm.js';
import { leftPad } from './batch.js';
import { type LoglikelihoodRequest, type LoglikelihoodResult, type PreparedRequest, type ScoreOptions, prepareRequests } from './score.js';

export interface SharedPrefixScoreOptions extends ScoreOptions {
  /**
   * Fewest leading tokens a row must share with a neighbour (in token order) to be run from the
   * neighbour's cached keys and values; rows sharing fewer are batched with padding as
   * scoreLoglikelihood batches them. Default 32: a shorter shared prefix saves less than a one-row
   * forward costs in weight reads.
   */
  readonly minSharedPrefix?: number;
}

/** Requests that give the model the same input: the single-token choices after one context, say. */
interface Row {
  readonly tokens: readonly number[];
  readonly requests: PreparedRequest[];
  /** How many trailing positions need logits: the most targets of its requests. */
  needed: number;
}

/** Where a row's hidden states sit in a forward's output: `hidden` row index of token position `p`. */
type PositionIndex = (position: number) => number;

/**
 * scoreLoglikelihood's results (the same numbers, up to float rounding order) with less compute:
 * - requests with the same input row (lm-eval's choices " A".." D" after one context: each choice is a
 *   single token, so its row is the context alone) run once, and the lm_head runs once per position;
 * - rows are taken in token order through one KV cache, and each reuses the keys and values of the
 *   leading tokens it shares with the row before it (a causal model's keys at a position depend only
 *   on the tokens up to it), so a k-shot prompt's few-shot examples, identical within an MMLU subject,
 *   are computed once and each item runs only its own question; runs of rows sharing a prefix are taken
 *   in the order the caller gave them;
 * - rows that share too little with their neighbours are batched with left padding, as today.
 * The held cache also carries over between calls to `score`, so a caller that scores in chunks (to save
 * results as it goes) keeps the shared prefix. The model and its adapters must stay the same between
 * calls: the held keys belong to them.
 */
export class SharedPrefixScorer {
  private cache: KvCache | undefined;
  /** The caller's tokens whose keys and values `cache` holds (a prompt-tuned model adds its virtual ones). */
  private cachedTokens: readonly number[] = [];

  constructor(
    readonly model: CausalLM,
    readonly options: SharedPrefixScoreOptions = {},
  ) {}

  /** Scores the requests; `onBatch(done, total)` counts requests whose forward pass has run. */
  score(requests: readonly LoglikelihoodRequest[], onBatch = this.options.onBatch): LoglikelihoodResult[] {
    const minShared = this.options.minSharedPrefix ?? 32;
    const rows = distinctRows(prepareRequests(this.model, requests, this.options));
    rows.sort((a, b) => compareTokens(a.tokens, b.tokens));
    const reusable = (row: Row, other: readonly number[]) => Math.min(commonPrefixLength(row.tokens, other), row.tokens.length - row.needed);
    // Runs of rows in token order that share at least minShared tokens with the row before them.
    const runs: Row[][] = [];
    rows.forEach((row, i) => {
      if (i > 0 && reusable(row, rows[i - 1].tokens) >= minShared) runs[runs.length - 1].push(row);
      else runs.push([row]);
    });
    const walkedRuns = runs.filter((run) => run.length > 1 || reusable(run[0], this.cachedTokens) >= minShared);
    const isWalked = new Set(walkedRuns);
    const padded = runs.filter((run) => !isWalked.has(run)).flat();
    // Runs in the caller's order: a caller scoring in chunks continues, in its next call, the run it
    // ended with (an MMLU subject cut by the chunk), which then starts from the held cache.
    const firstRequest = (run: readonly Row[]) => Math.min(...run.map((row) => row.requests[0].index));
    const walked = walkedRuns.sort((a, b) => firstRequest(a) - firstRequest(b)).flat();

    const logits = new PendingLogits(this.model, requests.length, this.options.logitRowsPerChunk ?? 64);
    let done = 0;
    const ran = (batch: readonly Row[]) => {
      done += batch.reduce((n, row) => n + row.requests.length, 0);
      onBatch?.(done, requests.length);
    };
    const longest = Math.max(0, ...walked.map((row) => row.tokens.length));
    for (const row of walked) {
      const { hidden, index } = this.forwardFromCache(row.tokens, row.needed, longest);
      logits.addRow(row, hidden, index);
      ran([row]);
    }
    logits.flush();
    // Longest first: rows of similar length share a batch, so little compute goes to padding.
    padded.sort((a, b) => b.tokens.length - a.tokens.length);
    const batchSize = this.options.batchSize ?? 8;
    const pad = this.model.config.padTokenId ?? this.model.config.eosTokenId ?? 0;
    for (let start = 0; start < padded.length; start += batchSize) {
      const batch = padded.slice(start, start + batchSize);
      const input = leftPad(batch.map((row) => row.tokens), pad, 'requests');
      const { hidden } = this.model.forward(input);
      // With left padding, a row's last token sits in the last column.
      batch.forEach((row, b) => logits.addRow(row, hidden, (p) => b * input.length + input.length - row.tokens.length + p));
      logits.flush();
      ran(batch);
    }
    return logits.results();
  }

  /**
   * Runs `tokens` through the held cache, keeping the keys and values of the leading tokens it shares
   * with the cached ones, except that the last `needed` positions always run (their hidden states are
   * wanted). Afterwards the cache holds `tokens`. A cache too small for them grows to `capacity`.
   */
  private forwardFromCache(tokens: readonly number[], needed: number, capacity: number): { hidden: Float32Array; index: PositionIndex } {
    const keep = Math.min(commonPrefixLength(tokens, this.cachedTokens), tokens.length - needed);
    // Positions the cache holds that are not caller tokens: a prompt-tuned model's virtual tokens.
    const extra = this.cache ? this.cache.length - this.cachedTokens.length : 0;
    if (!this.cache || this.cache.capacity - extra < tokens.length) this.cache = this.grownCache(Math.max(capacity, tokens.length), keep === 0 ? 0 : extra + keep);
    const cache = this.cache;
    // An empty cache makes the next forward a fresh prefill (a prompt-tuned model then adds its virtual tokens).
    cache.length = keep === 0 ? 0 : extra + keep;
    // Until the forward succeeds the cache holds nothing reusable.
    this.cachedTokens = [];
    const fresh = Int32Array.from(tokens.slice(keep));
    const { hidden } = this.model.forward({ ids: fresh, batch: 1, mask: new Uint8Array(tokens.length).fill(1), cache });
    this.cachedTokens = tokens;
    return { hidden, index: (p) => p - keep };
  }

  /** A one-row cache for `capacity` caller tokens holding the first `kept` positions of the current one. */
  private grownCache(capacity: number, kept: number): KvCache {
    const grown = this.model.createCache(1, capacity);
    const old = this.cache;
    if (old && kept > 0) {
      const { numHeads, headDim } = this.model.config;
      for (let layer = 0; layer < old.keys.length; layer++) {
        for (let h = 0; h < numHeads; h++) {
          const from = h * old.capacity * headDim;
          const to = h * grown.capacity * headDim;
          grown.keys[layer].set(old.keys[layer].subarray(from, from + kept * headDim), to);
          grown.values[layer].set(old.values[layer].subarray(from, from + kept * headDim), to);
        }
      }
    }
    return grown;
  }
}

/** scoreLoglikelihood with shared rows and prefixes computed once (see SharedPrefixScorer). */
export function scoreLoglikelihoodShared(model: CausalLM, requests: readonly LoglikelihoodRequest[], options: SharedPrefixScoreOptions = {}): LoglikelihoodResult[] {
  return new SharedPrefixScorer(model, options).score(requests);
}

/** One target token to score: which request, which of its targets, and the logits row that predicts it. */
interface Entry {
  readonly request: number;
  readonly targetIndex: number;
  readonly target: number;
  readonly logitsRow: number;
}

/**
 * Collects the hidden states of positions that need logits, across rows, and scores them in chunks:
 * the lm_head runs once per distinct position (not per request) over several rows at a time, and each
 * request's targets are scored by the backend's log-softmax as scoreLoglikelihood scores them.
 */
class PendingLogits {
  private hidden: Float32Array[] = [];
  private entries: Entry[] = [];
  private readonly tokenLogProbs: number[][];
  private readonly greedy: boolean[][];

  constructor(
    private readonly model: CausalLM,
    requestCount: number,
    private readonly chunkRows: number,
  ) {
    this.tokenLogProbs = Array.from({ length: requestCount }, () => []);
    this.greedy = Array.from({ length: requestCount }, () => []);
  }

  addRow(row: Row, hidden: Float32Array, index: PositionIndex): void {
    const width = this.model.config.hiddenSize;
    const rowOf = new Map<number, number>();
    for (let p = row.tokens.length - row.needed; p < row.tokens.length; p++) {
      rowOf.set(p, this.hidden.length);
      const at = index(p);
      this.hidden.push(hidden.slice(at * width, (at + 1) * width));
    }
    for (const request of row.requests) {
      // Target t is predicted by the position before it: the last targets.length positions of the row.
      const first = row.tokens.length - request.targets.length;
      request.targets.forEach((target, t) => this.entries.push({ request: request.index, targetIndex: t, target, logitsRow: rowOf.get(first + t)! }));
    }
    if (this.entries.length >= this.chunkRows) this.flush();
  }

  flush(): void {
    if (this.entries.length === 0) return;
    const { vocabSize, hiddenSize } = this.model.config;
    const stacked = new Float32Array(this.hidden.length * hiddenSize);
    this.hidden.forEach((h, i) => stacked.set(h, i * hiddenSize));
    const logits = this.model.logits(stacked, this.hidden.length);
    // One logits row per target, as scoreLoglikelihood hands them to the backend.
    const perTarget = new Float32Array(this.entries.length * vocabSize);
    this.entries.forEach((e, i) => perTarget.set(logits.subarray(e.logitsRow * vocabSize, (e.logitsRow + 1) * vocabSize), i * vocabSize));
    const scored = this.model.backend.tokenLogProbs(perTarget, vocabSize, Int32Array.from(this.entries, (e) => e.target));
    this.entries.forEach((e, i) => {
      this.tokenLogProbs[e.request][e.targetIndex] = scored.logProbs[i];
      this.greedy[e.request][e.targetIndex] = scored.isGreedy[i] === 1;
    });
    this.hidden = [];
    this.entries = [];
  }

  results(): LoglikelihoodResult[] {
    this.flush();
    return this.tokenLogProbs.map((tokenLogProbs, i) => ({
      logLikelihood: tokenLogProbs.reduce((a, b) => a + b, 0),
      isGreedy: this.greedy[i].every(Boolean),
      tokenLogProbs,
    }));
  }
}

/** Groups requests by their input row. */
function distinctRows(prepared: readonly PreparedRequest[]): Row[] {
  const rows = new Map<string, Row>();
  for (const request of prepared) {
    const key = request.input.join(',');
    let row = rows.get(key);
    if (!row) {
      row = { tokens: request.input, requests: [], needed: 0 };
      rows.set(key, row);
    }
    row.requests.push(request);
    row.needed = Math.max(row.needed, request.targets.length);
  }
  return [...rows.values()];
}

function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/** Token order: rows with a common prefix end up next to each other. */
function compareTokens(a: readonly number[], b: readonly number[]): number {
  const i = commonPrefixLength(a, b);
  if (i < a.length && i < b.length) return a[i] - b[i];
  return a.length - b.length;
}

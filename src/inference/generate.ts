import { InvalidInputError } from '../errors.js';
import type { CausalLM } from '../models/causal-lm.js';
import { gatherRows, leftPad } from './batch.js';
import { type LogitsProcessing, processLogits, processesLogits, validateLogitsProcessing } from './logits-processors.js';
import { type DecodingStrategy, SeededRandom, argmax, sampleToken, validateStrategy } from './sampling.js';

export interface StopSequences {
  readonly sequences: readonly string[];
  /** Turns a row's new token ids into text, to look for the stop sequences. */
  readonly decode: (ids: readonly number[]) => string;
}

export interface GenerationOptions {
  readonly maxNewTokens: number;
  readonly strategy: DecodingStrategy;
  /** Repetition penalty, no-repeat n-grams and minimum new tokens, applied before the strategy's warpers. */
  readonly processing?: LogitsProcessing;
  /** Ends a row when produced; defaults to the config's eos_token_id. `null` never ends early. */
  readonly eosTokenId?: number | null;
  readonly stop?: StopSequences;
  /** Keep each step's raw logits `[batch, vocab]` (tests compare them with Hugging Face's model output). */
  readonly keepStepLogits?: boolean;
  /**
   * Keep each step's scores `[batch, vocab]` after the logits processors and before temperature, top-k and
   * top-p: Hugging Face's `scores` for greedy decoding. Rows already finished hold their raw logits.
   */
  readonly keepStepScores?: boolean;
  /** Called after every step with the token chosen for each row (−1 for a finished row). */
  readonly onStep?: (step: number, tokens: readonly number[]) => void;
}

export type FinishReason = 'eos' | 'stop' | 'length';

export interface GeneratedRow {
  readonly newTokens: number[];
  /**
   * Log-probability of each new token under the model: the log-softmax of the raw logits, before the
   * logits processors (repetition penalty, n-gram bans, minimum new tokens) and before temperature,
   * top-k and top-p, so it measures the model and not the decoding settings.
   */
  readonly logProbs: number[];
  finishReason: FinishReason;
}

export interface GenerationResult {
  readonly rows: GeneratedRow[];
  readonly stepLogits?: Float32Array[];
  readonly stepScores?: Float32Array[];
  readonly prefillMs: number;
  readonly decodeMs: number;
}

/**
 * Generates continuations for a batch of prompts with a KV cache: one forward over the left-padded
 * prompts, then one position per step. Rows are independent; a finished row is fed padding until the
 * whole batch is done. Each step follows Hugging Face's `generate`: logits processors, then the strategy.
 */
export function generate(model: CausalLM, prompts: readonly (readonly number[])[], options: GenerationOptions): GenerationResult {
  const { config } = model;
  const { maxNewTokens, strategy } = options;
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) throw new InvalidInputError('maxNewTokens', `must be a positive integer, got ${maxNewTokens}`);
  validateStrategy(strategy);
  const processing = options.processing ?? {};
  validateLogitsProcessing(processing);
  const eos = options.eosTokenId === undefined ? config.eosTokenId : options.eosTokenId;
  const pad = config.padTokenId ?? config.eosTokenId ?? 0;
  const padded = leftPad(prompts, pad);
  const { batch, length } = padded;
  const vocab = config.vocabSize;
  const random = strategy.kind === 'sample' ? new SeededRandom(strategy.seed) : undefined;
  const processed = processesLogits(processing, eos);
  // Each row as Hugging Face's input_ids hold it, padding included: the processors read it.
  const sequences = Array.from({ length: batch }, (_, b) => Array.from(padded.ids.subarray(b * length, (b + 1) * length)));

  const cache = model.createCache(batch, length + maxNewTokens);
  const rows: GeneratedRow[] = Array.from({ length: batch }, () => ({ newTokens: [], logProbs: [], finishReason: 'length' as FinishReason }));
  const finished = new Array<boolean>(batch).fill(false);
  const stepLogits: Float32Array[] | undefined = options.keepStepLogits ? [] : undefined;
  const stepScores: Float32Array[] | undefined = options.keepStepScores ? [] : undefined;
  let mask = padded.mask;
  let ids = padded.ids;

  const started = performance.now();
  let prefillMs = 0;
  for (let step = 0; step < maxNewTokens; step++) {
    const queryLen = step === 0 ? length : 1;
    const { hidden } = model.forward({ ids, batch, mask, cache });
    const lastPositions = Array.from({ length: batch }, (_, b) => b * queryLen + queryLen - 1);
    const logits = model.logits(gatherRows(hidden, config.hiddenSize, lastPositions), batch);
    if (step === 0) prefillMs = performance.now() - started;
    stepLogits?.push(logits);
    const scores = processed ? Float32Array.from(logits) : logits;
    if (processed) {
      for (let b = 0; b < batch; b++) {
        if (!finished[b]) processLogits(scores.subarray(b * vocab, (b + 1) * vocab), sequences[b], step, eos, processing);
      }
    }
    stepScores?.push(scores);

    const chosen = Array.from({ length: batch }, (_, b) => {
      if (finished[b]) return -1;
      const offset = b * vocab;
      return strategy.kind === 'greedy' ? argmax(scores, offset, vocab) : sampleToken(scores, offset, vocab, strategy, random!);
    });
    // One backend call scores every row's choice (a threaded log-softmax over the whole vocabulary).
    const { logProbs } = model.backend.tokenLogProbs(logits, vocab, Int32Array.from(chosen, (token) => Math.max(token, 0)));
    for (let b = 0; b < batch; b++) {
      const token = chosen[b];
      if (token < 0) continue;
      const row = rows[b];
      row.newTokens.push(token);
      sequences[b].push(token);
      row.logProbs.push(logProbs[b]);
      if (eos !== null && eos !== undefined && token === eos) {
        finished[b] = true;
        row.finishReason = 'eos';
      } else if (options.stop && endsAtStopSequence(row, options.stop)) {
        finished[b] = true;
        row.finishReason = 'stop';
      }
    }
    options.onStep?.(step, chosen);
    if (finished.every(Boolean) || step === maxNewTokens - 1) break;

    ids = Int32Array.from(chosen, (token) => (token < 0 ? pad : token));
    mask = appendRealColumn(mask, batch);
  }
  return { rows, stepLogits, stepScores, prefillMs, decodeMs: performance.now() - started - prefillMs };
}

/** The mask `[batch, n]` widened to `[batch, n + 1]` with the new column real (1) in every row. */
function appendRealColumn(mask: Uint8Array, batch: number): Uint8Array {
  const width = mask.length / batch;
  const next = new Uint8Array(batch * (width + 1));
  for (let b = 0; b < batch; b++) {
    next.set(mask.subarray(b * width, (b + 1) * width), b * (width + 1));
    next[b * (width + 1) + width] = 1;
  }
  return next;
}

/** True when the row's text now contains a stop sequence; the row's tokens are cut back to it. */
function endsAtStopSequence(row: GeneratedRow, stop: StopSequences): boolean {
  const text = stop.decode(row.newTokens);
  if (!stop.sequences.some((s) => s.length > 0 && text.includes(s))) return false;
  // Keep the shortest token prefix whose text contains a stop sequence, like a streaming client would.
  for (let n = 1; n <= row.newTokens.length; n++) {
    const prefix = stop.decode(row.newTokens.slice(0, n));
    if (stop.sequences.some((s) => s.length > 0 && prefix.includes(s))) {
      row.newTokens.length = n;
      row.logProbs.length = n;
      return true;
    }
  }
  return true;
}

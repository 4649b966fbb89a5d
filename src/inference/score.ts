import { InvalidInputError } from '../errors.js';
import type { CausalLM } from '../models/causal-lm.js';
import { gatherRows, leftPad } from './batch.js';

/** lm-evaluation-harness's `loglikelihood` request: how likely is `continuation` after `context`? */
export interface LoglikelihoodRequest {
  readonly context: readonly number[];
  readonly continuation: readonly number[];
}

export interface LoglikelihoodResult {
  /** Sum of the continuation tokens' log-probabilities. */
  readonly logLikelihood: number;
  /** Whether greedy decoding would have produced exactly the continuation. */
  readonly isGreedy: boolean;
  readonly tokenLogProbs: number[];
}

export interface ScoreOptions {
  /** Rows per forward pass. */
  readonly batchSize?: number;
  /** Longest input the model sees; longer requests lose tokens from the left, as lm-eval does. */
  readonly maxLength?: number;
  /** Positions per lm_head call: bounds the `[rows, vocab]` logits held at once. */
  readonly logitRowsPerChunk?: number;
  /** Context to use when a request's context is empty (lm-eval uses the end-of-text token). */
  readonly emptyContextToken?: number;
  readonly onBatch?: (done: number, total: number) => void;
}

/**
 * Scores continuations given contexts. Each request becomes one row `(context + continuation)[:-1]`
 * predicting `continuation`; the lm_head runs only at the positions that predict continuation tokens,
 * which matters with a 250,880-wide vocabulary.
 */
export function scoreLoglikelihood(model: CausalLM, requests: readonly LoglikelihoodRequest[], options: ScoreOptions = {}): LoglikelihoodResult[] {
  const batchSize = options.batchSize ?? 8;
  const chunkRows = options.logitRowsPerChunk ?? 64;
  const { vocabSize, hiddenSize } = model.config;
  const pad = model.config.padTokenId ?? model.config.eosTokenId ?? 0;

  const prepared = prepareRequests(model, requests, options);
  // Longest first: rows of similar length share a batch, so little compute goes to padding.
  const order = [...prepared].sort((a, b) => b.input.length - a.input.length);
  const results: LoglikelihoodResult[] = new Array(requests.length);

  for (let start = 0; start < order.length; start += batchSize) {
    const group = order.slice(start, start + batchSize);
    const padded = leftPad(group.map((g) => g.input), pad, 'requests');
    const { hidden } = model.forward({ ids: padded.ids, batch: padded.batch, mask: padded.mask });
    // With left padding, a row's last k inputs sit in the last k columns.
    const positions: number[] = [];
    const targets: number[] = [];
    group.forEach((g, b) => {
      for (let t = 0; t < g.targets.length; t++) {
        positions.push(b * padded.length + padded.length - g.targets.length + t);
        targets.push(g.targets[t]);
      }
    });
    const logProbs = new Float32Array(positions.length);
    const greedy = new Uint8Array(positions.length);
    for (let c = 0; c < positions.length; c += chunkRows) {
      const rows = positions.slice(c, c + chunkRows);
      const logits = model.logits(gatherRows(hidden, hiddenSize, rows), rows.length);
      const scored = model.backend.tokenLogProbs(logits, vocabSize, Int32Array.from(targets.slice(c, c + chunkRows)));
      logProbs.set(scored.logProbs, c);
      greedy.set(scored.isGreedy, c);
    }
    let cursor = 0;
    for (const g of group) {
      const tokenLogProbs = Array.from(logProbs.subarray(cursor, cursor + g.targets.length));
      const isGreedy = greedy.subarray(cursor, cursor + g.targets.length).every((v) => v === 1);
      cursor += g.targets.length;
      results[g.index] = { logLikelihood: tokenLogProbs.reduce((a, b) => a + b, 0), isGreedy, tokenLogProbs };
    }
    options.onBatch?.(Math.min(start + batchSize, order.length), order.length);
  }
  return results;
}

/**
 * lm-eval's `loglikelihood_rolling` for texts that fit the window: the log-likelihood of every token,
 * the first predicted from `prefixToken` (end-of-text by default).
 */
export function scoreRolling(model: CausalLM, texts: readonly (readonly number[])[], options: ScoreOptions & { prefixToken?: number } = {}): LoglikelihoodResult[] {
  const prefix = options.prefixToken ?? model.config.eosTokenId;
  if (prefix === undefined) throw new InvalidInputError('prefixToken', 'the model config has no eos_token_id; give a prefix token');
  return scoreLoglikelihood(model, texts.map((t) => ({ context: [prefix], continuation: t })), options);
}

/** A request as the model sees it: one input row and the tokens its last positions predict. */
export interface PreparedRequest {
  readonly index: number;
  /** `(context + continuation)[:-1]`, cut from the left to `maxLength` tokens. */
  readonly input: readonly number[];
  /** The continuation tokens scored (all of them unless the cut reached into the continuation). */
  readonly targets: readonly number[];
}

/**
 * Validates requests and lays each out as lm-eval does: an empty context becomes `emptyContextToken`,
 * and `context + continuation` keeps its last `maxLength + 1` tokens.
 */
export function prepareRequests(model: CausalLM, requests: readonly LoglikelihoodRequest[], options: ScoreOptions = {}): PreparedRequest[] {
  const maxLength = options.maxLength ?? 2048;
  const emptyContext = options.emptyContextToken ?? model.config.eosTokenId;
  const { vocabSize } = model.config;
  return requests.map((request, i) => {
    if (request.continuation.length === 0) throw new InvalidInputError(`requests[${i}].continuation`, 'is empty: nothing to score');
    let context = request.context;
    if (context.length === 0) {
      if (emptyContext === undefined) throw new InvalidInputError(`requests[${i}].context`, 'is empty and the model config has no eos_token_id to stand in for it');
      context = [emptyContext];
    }
    for (const [field, ids] of [['context', context], ['continuation', request.continuation]] as const) {
      ids.forEach((id, p) => {
        if (!(Number.isInteger(id) && id >= 0 && id < vocabSize)) throw new InvalidInputError(`requests[${i}].${field}[${p}]`, `token id ${id} is outside the vocabulary [0, ${vocabSize})`);
      });
    }
    const whole = [...context, ...request.continuation].slice(-(maxLength + 1));
    const scored = Math.min(request.continuation.length, whole.length - 1);
    return { index: i, input: whole.slice(0, -1), targets: whole.slice(whole.length - scored) };
  });
}

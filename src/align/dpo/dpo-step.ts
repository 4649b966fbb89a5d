/**
 * One DPO training step on a BLOOM model with a LoRA adapter, as trl v0.7.11's DPOTrainer runs it for a
 * decoder-only model:
 * - `tokenizePreferencePair` builds the prompt + chosen and prompt + rejected rows as `tokenize_row` does
 *   (BOS before the prompt, EOS after the answer, labels -100 on the prompt), and `collatePreferencePairs`
 *   pads them to one length and stacks chosen rows over rejected rows as `concatenated_inputs` does;
 * - `ReferenceLogProbs` computes the reference model's sequence log-probabilities with the adapter left out
 *   (the same weights, so no second copy of the model), once per pair, kept in memory by pair index;
 * - `dpoStep` runs chosen and rejected rows in one forward (trl's `concatenated_forward`), the DPO loss on the
 *   logits, the backward pass to the LoRA tensors, and one AdamW update.
 *
 * Not reproduced: trl's truncation (`max_length`, `max_prompt_length`, `truncation_mode`); a row longer than
 * `maxLength` is an error naming its line instead of being cut silently.
 */
import { DatasetError, InvalidInputError } from '../../errors.js';
import type { BloomModel } from '../../models/bloom/model.js';
import type { LoraAdapter } from '../../peft/lora/model.js';
import { type ForwardBackwardOptions, type LossInput, type ModelInputs, forwardBackwardWithLoss } from '../../train/bloom-backward.js';
import type { AdamW } from '../../train/optimizer.js';
import type { PreferencePair } from '../preference-pairs.js';
import { type DpoLossOptions, type DpoMetrics, dpoLossFromLogits } from './dpo-loss.js';
import { IGNORED_LABEL, type SequenceLogProbOptions, sequenceLogProbs } from './sequence-logps.js';

/** What tokenising needs from a tokenizer (BloomTokenizer has it). */
export interface PairTokenizer {
  /** Encodes without special tokens, as trl's `tokenizer(text, add_special_tokens=False)`. */
  encode(text: string): number[];
  readonly bosTokenId: number | undefined;
  readonly eosTokenId: number | undefined;
  readonly padTokenId: number | undefined;
}

/** Where a pair came from, for errors in the user's terms. */
export interface PairSource {
  readonly file: string;
  readonly line: number;
}

/** One pair's two rows: ids and labels of the same length per row, labels -100 on the prompt. */
export interface TokenizedPair {
  readonly chosenIds: Int32Array;
  readonly chosenLabels: Int32Array;
  readonly rejectedIds: Int32Array;
  readonly rejectedLabels: Int32Array;
}

export interface TokenizeOptions {
  /** Longest row allowed (trl's `max_length`); longer rows are an error here, not truncated. */
  readonly maxLength?: number;
}

function requireTokenId(id: number | undefined, role: string): number {
  if (id === undefined) throw new InvalidInputError('tokenizer', `has no ${role} token; DPO rows need one (trl adds BOS before the prompt and EOS after each answer)`);
  return id;
}

/**
 * trl's `build_tokenized_answer`: prompt + answer encoded together, split where the prompt's own encoding
 * ends; if the tokenizer merged the prompt's last token with the answer's first, the split moves one back.
 */
function splitPromptAndAnswer(tokenizer: PairTokenizer, prompt: string, answer: string): { promptIds: number[]; answerIds: number[] } {
  const full = tokenizer.encode(prompt + answer);
  const promptAlone = tokenizer.encode(prompt);
  let start = promptAlone.length;
  if (full.slice(0, start).some((id, i) => id !== promptAlone[i])) start -= 1;
  return { promptIds: full.slice(0, start), answerIds: full.slice(start) };
}

function row(bos: number, eos: number, promptIds: number[], answerIds: number[]): { ids: Int32Array; labels: Int32Array } {
  const ids = Int32Array.from([bos, ...promptIds, ...answerIds, eos]);
  const labels = Int32Array.from(ids);
  labels.fill(IGNORED_LABEL, 0, promptIds.length + 1);
  return { ids, labels };
}

export function tokenizePreferencePair(pair: PreferencePair, tokenizer: PairTokenizer, source: PairSource, options: TokenizeOptions = {}): TokenizedPair {
  const bos = requireTokenId(tokenizer.bosTokenId, 'BOS');
  const eos = requireTokenId(tokenizer.eosTokenId, 'EOS');
  for (const field of ['prompt', 'chosen', 'rejected'] as const) {
    if (typeof pair[field] !== 'string') throw new DatasetError(source.file, 'must be a string', { line: source.line, field });
  }
  const chosen = splitPromptAndAnswer(tokenizer, pair.prompt, pair.chosen);
  const rejected = splitPromptAndAnswer(tokenizer, pair.prompt, pair.rejected);
  // trl's own check: the two prompt encodings may differ only in a last token merged into the answer.
  const differing = chosen.promptIds.filter((id, i) => id !== rejected.promptIds[i]).length;
  if (differing > 1 || Math.abs(chosen.promptIds.length - rejected.promptIds.length) > 1) {
    throw new DatasetError(source.file, 'is tokenised differently before "chosen" and before "rejected" (more than a last merged token)', { line: source.line, field: 'prompt' });
  }
  const rows = { chosen: row(bos, eos, chosen.promptIds, chosen.answerIds), rejected: row(bos, eos, rejected.promptIds, rejected.answerIds) };
  for (const field of ['chosen', 'rejected'] as const) {
    const { ids } = rows[field];
    if (options.maxLength !== undefined && ids.length > options.maxLength) {
      throw new DatasetError(source.file, `with the prompt makes ${ids.length} tokens, more than max_length ${options.maxLength} (rows are not truncated)`, { line: source.line, field });
    }
  }
  return { chosenIds: rows.chosen.ids, chosenLabels: rows.chosen.labels, rejectedIds: rows.rejected.ids, rejectedLabels: rows.rejected.labels };
}

/** Tokenises pairs read from `file`, `lines[i]` being pair i's line number there. */
export function tokenizePreferencePairs(
  pairs: readonly PreferencePair[],
  lines: readonly number[],
  file: string,
  tokenizer: PairTokenizer,
  options: TokenizeOptions = {},
): TokenizedPair[] {
  if (lines.length !== pairs.length) throw new InvalidInputError('lines', `has ${lines.length} line numbers for ${pairs.length} pairs`);
  return pairs.map((pair, i) => tokenizePreferencePair(pair, tokenizer, { file, line: lines[i] }, options));
}

/** Chosen rows 0..pairs-1, then rejected rows pairs..2·pairs-1, right-padded to one length. */
export interface PreferenceBatch {
  readonly inputs: ModelInputs;
  /** `[2·pairs, seqLen]`, -100 on prompts and padding. */
  readonly labels: Int32Array;
  readonly pairs: number;
  readonly seqLen: number;
}

/** trl's `concatenated_inputs`: ids padded with the pad token, mask with 0, labels with -100. */
export function collatePreferencePairs(pairs: readonly TokenizedPair[], padTokenId: number): PreferenceBatch {
  if (pairs.length === 0) throw new InvalidInputError('pairs', 'is empty; a DPO batch needs at least one pair');
  const rowsIds = [...pairs.map((p) => p.chosenIds), ...pairs.map((p) => p.rejectedIds)];
  const rowsLabels = [...pairs.map((p) => p.chosenLabels), ...pairs.map((p) => p.rejectedLabels)];
  const seqLen = Math.max(...rowsIds.map((ids) => ids.length));
  const rows = rowsIds.length;
  const ids = new Int32Array(rows * seqLen).fill(padTokenId);
  const mask = new Uint8Array(rows * seqLen);
  const labels = new Int32Array(rows * seqLen).fill(IGNORED_LABEL);
  rowsIds.forEach((rowIds, r) => {
    ids.set(rowIds, r * seqLen);
    mask.fill(1, r * seqLen, r * seqLen + rowIds.length);
    labels.set(rowsLabels[r], r * seqLen);
  });
  return { inputs: { ids, mask, batch: rows }, labels, pairs: pairs.length, seqLen };
}

/** Sequence log-probabilities of a batch's rows under the model as `trainables` adapt it, no gradients. */
function rowLogProbs(model: BloomModel, batch: PreferenceBatch, lora: LoraAdapter | undefined, options: SequenceLogProbOptions): Float64Array {
  let logps: Float64Array = new Float64Array(0);
  forwardBackwardWithLoss(
    model,
    batch.inputs,
    lora ? { lora } : {},
    {
      on: 'logits',
      lossAndGradient: ({ values, batch: rows, seqLen, width }: LossInput) => {
        logps = sequenceLogProbs({ logits: values, labels: batch.labels, rows, seqLen, vocab: width }, options);
        return { loss: 0, gradient: new Float32Array(0) };
      },
    },
    { gradients: false },
  );
  return logps;
}

/**
 * The reference model's chosen and rejected log-probabilities: the policy's own weights with the LoRA adapter
 * left out (trl's `null_ref_context` for a peft model), so the base model is held once. Each pair's values are
 * computed the first time it is asked for and kept by pair index, since the reference never changes.
 */
export class ReferenceLogProbs {
  private readonly cache = new Map<number, { chosen: number; rejected: number }>();
  /** Whether the cached values are averaged over completion tokens; the policy's must be too. */
  readonly average: boolean;

  constructor(
    private readonly model: BloomModel,
    options: SequenceLogProbOptions = {},
  ) {
    this.average = options.average ?? false;
  }

  get size(): number {
    return this.cache.size;
  }

  /** `indices[i]` is the pair index of `pairs[i]`. */
  get(pairs: readonly TokenizedPair[], indices: readonly number[], padTokenId: number): { chosen: Float64Array; rejected: Float64Array } {
    if (indices.length !== pairs.length) throw new InvalidInputError('indices', `has ${indices.length} pair indices for ${pairs.length} pairs`);
    const missing = indices.map((index, i) => [index, i] as const).filter(([index]) => !this.cache.has(index));
    if (missing.length > 0) {
      const batch = collatePreferencePairs(missing.map(([, i]) => pairs[i]), padTokenId);
      const logps = rowLogProbs(this.model, batch, undefined, { average: this.average });
      missing.forEach(([index], m) => this.cache.set(index, { chosen: logps[m], rejected: logps[batch.pairs + m] }));
    }
    const chosen = Float64Array.from(indices, (index) => this.cache.get(index)!.chosen);
    const rejected = Float64Array.from(indices, (index) => this.cache.get(index)!.rejected);
    return { chosen, rejected };
  }
}

export interface DpoStepOptions {
  /** `average` defaults as trl's `concatenated_forward` sets it: averaged log-probabilities for IPO only. */
  readonly loss: DpoLossOptions & SequenceLogProbOptions;
  readonly padTokenId: number;
  /** Passed to the forward and backward pass (LoRA dropout seed, gradient checkpointing). */
  readonly forward?: ForwardBackwardOptions;
  /** Learning rate for this step (a schedule's value); the optimiser's own rate otherwise. */
  readonly lr?: number;
}

export interface DpoStepResult {
  readonly loss: number;
  readonly metrics: DpoMetrics;
  /** The LoRA gradients this step applied, by peft's tensor names. */
  readonly grads: Map<string, Float32Array>;
}

/**
 * The DPO loss and its LoRA gradients for one batch of pairs, without updating anything: chosen and rejected
 * rows in one forward, the loss on the logits, the backward pass to `lora`.
 */
export function dpoLossAndGradients(
  model: BloomModel,
  lora: LoraAdapter,
  reference: ReferenceLogProbs,
  pairs: readonly TokenizedPair[],
  indices: readonly number[],
  options: DpoStepOptions,
): DpoStepResult {
  const average = options.loss.average ?? options.loss.lossType === 'ipo';
  if (reference.average !== average) {
    throw new InvalidInputError('average_log_prob', `is ${average} for the policy but ${reference.average} for the cached reference log-probabilities; they must be alike`);
  }
  const referenceLogps = reference.get(pairs, indices, options.padTokenId);
  const batch = collatePreferencePairs(pairs, options.padTokenId);
  let metrics: DpoMetrics | undefined;
  const { loss, grads } = forwardBackwardWithLoss(
    model,
    batch.inputs,
    { lora },
    {
      on: 'logits',
      lossAndGradient: ({ values, seqLen, width }: LossInput) => {
        const half = batch.pairs * seqLen;
        const result = dpoLossFromLogits(
          {
            chosenLogits: values.subarray(0, half * width),
            rejectedLogits: values.subarray(half * width),
            chosenLabels: batch.labels.subarray(0, half),
            rejectedLabels: batch.labels.subarray(half),
            pairs: batch.pairs,
            seqLen,
            vocab: width,
            referenceChosen: referenceLogps.chosen,
            referenceRejected: referenceLogps.rejected,
          },
          { ...options.loss, average },
        );
        metrics = result.metrics;
        const gradient = new Float32Array(values.length);
        gradient.set(result.gradChosenLogits, 0);
        gradient.set(result.gradRejectedLogits, half * width);
        return { loss: result.loss, gradient };
      },
    },
    options.forward,
  );
  return { loss, metrics: metrics!, grads };
}

/** One DPO step: `dpoLossAndGradients`, then one AdamW update of the LoRA tensors (the optimiser's parameters). */
export function dpoStep(
  model: BloomModel,
  lora: LoraAdapter,
  reference: ReferenceLogProbs,
  optimizer: AdamW,
  pairs: readonly TokenizedPair[],
  indices: readonly number[],
  options: DpoStepOptions,
): DpoStepResult {
  const result = dpoLossAndGradients(model, lora, reference, pairs, indices, options);
  optimizer.update(result.grads, options.lr);
  return result;
}

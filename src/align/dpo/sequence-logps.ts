/**
 * Sequence log-probabilities of completions, as trl's `DPOTrainer.get_batch_logps` computes them for a causal LM:
 * the logits at position t score the label at t + 1, positions whose label is -100 (prompt and padding, as the
 * preference collator writes them) are left out, and a row's value is the sum of the label tokens' log-softmax
 * or, with `average`, that sum over the number of counted tokens. Computed in float64.
 */
import { InvalidInputError } from '../../errors.js';

/** The label value that marks a position as not part of the completion (trl's `label_pad_token_id`). */
export const IGNORED_LABEL = -100;

/** Row-major logits [rows, seqLen, vocab] and their labels [rows, seqLen]. */
export interface CompletionBatch {
  readonly logits: ArrayLike<number>;
  readonly labels: ArrayLike<number>;
  readonly rows: number;
  readonly seqLen: number;
  readonly vocab: number;
}

export interface SequenceLogProbOptions {
  /** Divide each row's sum by its count of completion tokens (trl's `average_log_prob`). */
  readonly average?: boolean;
}

function completionTokenCounts(batch: CompletionBatch): Int32Array {
  const { logits, labels, rows, seqLen, vocab } = batch;
  for (const [name, value] of [['rows', rows], ['seq_len', seqLen], ['vocab', vocab]] as const) {
    if (!Number.isInteger(value) || value < 1) throw new InvalidInputError(name, `must be a positive integer, got ${value}`);
  }
  if (logits.length !== rows * seqLen * vocab) {
    throw new InvalidInputError('logits', `has ${logits.length} values, expected rows × seq_len × vocab = ${rows} × ${seqLen} × ${vocab}`);
  }
  if (labels.length !== rows * seqLen) {
    throw new InvalidInputError('labels', `has ${labels.length} values, expected rows × seq_len = ${rows} × ${seqLen}`);
  }
  const counts = new Int32Array(rows);
  for (let row = 0; row < rows; row++) {
    // The first label has no logits before it to score it (the causal shift), so it never counts.
    for (let t = 1; t < seqLen; t++) {
      const label = labels[row * seqLen + t];
      if (label === IGNORED_LABEL) continue;
      if (!Number.isInteger(label) || label < 0 || label >= vocab) {
        throw new InvalidInputError('labels', `row ${row} position ${t} holds ${label}, expected a token id in [0, ${vocab}) or ${IGNORED_LABEL}`);
      }
      counts[row]++;
    }
  }
  return counts;
}

function requireCompletionTokens(counts: Int32Array): void {
  // trl divides 0 by 0 here and logs NaN; an empty completion is a data error, so name the row instead.
  const empty = counts.findIndex((count) => count === 0);
  if (empty >= 0) throw new InvalidInputError('labels', `row ${empty} has no completion tokens (every label after the first is ${IGNORED_LABEL})`);
}

/** log-sum-exp of one position's logits, shifted by the maximum so large logits cannot overflow. */
function logSumExp(logits: ArrayLike<number>, offset: number, vocab: number): number {
  let max = -Infinity;
  for (let v = 0; v < vocab; v++) max = Math.max(max, logits[offset + v]);
  let sum = 0;
  for (let v = 0; v < vocab; v++) sum += Math.exp(logits[offset + v] - max);
  return max + Math.log(sum);
}

/** One value per row: the summed (or averaged) log-probability of its completion tokens. */
export function sequenceLogProbs(batch: CompletionBatch, options: SequenceLogProbOptions = {}): Float64Array {
  const counts = completionTokenCounts(batch);
  if (options.average) requireCompletionTokens(counts);
  const { logits, labels, rows, seqLen, vocab } = batch;
  const out = new Float64Array(rows);
  for (let row = 0; row < rows; row++) {
    let sum = 0;
    for (let t = 0; t + 1 < seqLen; t++) {
      const label = labels[row * seqLen + t + 1];
      if (label === IGNORED_LABEL) continue;
      const offset = (row * seqLen + t) * vocab;
      sum += logits[offset + label] - logSumExp(logits, offset, vocab);
    }
    out[row] = options.average ? sum / counts[row] : sum;
  }
  return out;
}

/**
 * Chains d loss / d (each row's sequence log-probability) to d loss / d logits, shaped like the logits: at a
 * counted position, weight × (one-hot(label) − softmax), weight being the row's upstream gradient (over the
 * row's token count when averaged); zero at ignored positions and at the last position, which scores nothing.
 */
export function sequenceLogProbsBackward(batch: CompletionBatch, gradLogProbs: ArrayLike<number>, options: SequenceLogProbOptions = {}): Float32Array {
  const counts = completionTokenCounts(batch);
  if (options.average) requireCompletionTokens(counts);
  const { logits, labels, rows, seqLen, vocab } = batch;
  if (gradLogProbs.length !== rows) throw new InvalidInputError('grad_log_probs', `has ${gradLogProbs.length} values, expected one per row (${rows})`);
  const out = new Float32Array(rows * seqLen * vocab);
  for (let row = 0; row < rows; row++) {
    const weight = options.average ? gradLogProbs[row] / counts[row] : gradLogProbs[row];
    for (let t = 0; t + 1 < seqLen; t++) {
      const label = labels[row * seqLen + t + 1];
      if (label === IGNORED_LABEL) continue;
      const offset = (row * seqLen + t) * vocab;
      const lse = logSumExp(logits, offset, vocab);
      for (let v = 0; v < vocab; v++) out[offset + v] = -weight * Math.exp(logits[offset + v] - lse);
      out[offset + label] += weight;
    }
  }
  return out;
}

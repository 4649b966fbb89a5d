/**
 * The preference losses of trl v0.7.11's `DPOTrainer.dpo_loss`, with their implicit rewards, the metrics
 * `get_batch_loss_metrics` logs, and the gradient of the batch-mean loss with respect to the policy's
 * chosen and rejected sequence log-probabilities (and, through `dpoLossFromLogits`, the policy logits).
 *
 * With z = (policy_chosen − policy_rejected) − (reference_chosen − reference_rejected):
 * - `sigmoid` (DPO; cDPO when label_smoothing > 0): −(1 − ε)·log σ(βz) − ε·log σ(−βz),
 * - `ipo`: (z − 1/(2β))², β being IPO's regularisation τ.
 * Rewards are β·(policy − reference) per completion. Computed in float64.
 */
import { InvalidInputError } from '../../errors.js';
import { sequenceLogProbs, sequenceLogProbsBackward, type SequenceLogProbOptions } from './sequence-logps.js';

export type DpoLossType = 'sigmoid' | 'ipo';

export interface DpoLossOptions {
  readonly lossType: DpoLossType;
  readonly beta: number;
  /** cDPO's assumed probability that a preference label is flipped; `sigmoid` only. */
  readonly labelSmoothing?: number;
}

/** Per-pair sequence log-probabilities of the chosen and rejected completions, under the policy and the reference. */
export interface PreferenceLogProbs {
  readonly policyChosen: ArrayLike<number>;
  readonly policyRejected: ArrayLike<number>;
  readonly referenceChosen: ArrayLike<number>;
  readonly referenceRejected: ArrayLike<number>;
}

/** The values trl logs per step, under trl's own names. */
export interface DpoMetrics {
  readonly 'rewards/chosen': number;
  readonly 'rewards/rejected': number;
  readonly 'rewards/accuracies': number;
  readonly 'rewards/margins': number;
  readonly 'logps/chosen': number;
  readonly 'logps/rejected': number;
  readonly loss: number;
}

export interface DpoLossResult {
  /** Per-pair losses; `loss` is their mean, the value trl backpropagates. */
  readonly losses: Float64Array;
  readonly loss: number;
  readonly chosenRewards: Float64Array;
  readonly rejectedRewards: Float64Array;
  readonly metrics: DpoMetrics;
  /** d loss / d policyChosen and d loss / d policyRejected (the reference is fixed). */
  readonly gradPolicyChosen: Float64Array;
  readonly gradPolicyRejected: Float64Array;
}

/** Rejects what trl would run with silently wrong results; trl only warns for label smoothing under IPO. */
export function validateDpoLossOptions(options: DpoLossOptions): void {
  const { lossType, beta } = options;
  const labelSmoothing = options.labelSmoothing ?? 0;
  if (lossType !== 'sigmoid' && lossType !== 'ipo') throw new InvalidInputError('loss_type', `must be "sigmoid" or "ipo", got ${JSON.stringify(lossType)}`);
  if (!Number.isFinite(beta) || beta <= 0) throw new InvalidInputError('beta', `must be a finite number > 0, got ${beta}`);
  if (!Number.isFinite(labelSmoothing) || labelSmoothing < 0 || labelSmoothing >= 0.5) {
    throw new InvalidInputError('label_smoothing', `must be in [0, 0.5), got ${labelSmoothing}`);
  }
  if (lossType === 'ipo' && labelSmoothing !== 0) {
    throw new InvalidInputError('label_smoothing', `applies to loss_type "sigmoid" only; "ipo" has no label smoothing, got ${labelSmoothing}`);
  }
}

/** log σ(x) without overflow for large |x|. */
function logSigmoid(x: number): number {
  return Math.min(x, 0) - Math.log1p(Math.exp(-Math.abs(x)));
}

function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

function mean(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return sum / values.length;
}

export function dpoLoss(logps: PreferenceLogProbs, options: DpoLossOptions): DpoLossResult {
  validateDpoLossOptions(options);
  const pairs = logps.policyChosen.length;
  if (pairs === 0) throw new InvalidInputError('policy_chosen_logps', 'is empty; a batch needs at least one preference pair');
  for (const [name, values] of [
    ['policy_rejected_logps', logps.policyRejected],
    ['reference_chosen_logps', logps.referenceChosen],
    ['reference_rejected_logps', logps.referenceRejected],
  ] as const) {
    if (values.length !== pairs) throw new InvalidInputError(name, `has ${values.length} values, expected one per pair like policy_chosen_logps (${pairs})`);
  }
  const { lossType, beta } = options;
  const smoothing = options.labelSmoothing ?? 0;
  const losses = new Float64Array(pairs);
  const chosenRewards = new Float64Array(pairs);
  const rejectedRewards = new Float64Array(pairs);
  const gradPolicyChosen = new Float64Array(pairs);
  const gradPolicyRejected = new Float64Array(pairs);
  let accurate = 0;
  for (let i = 0; i < pairs; i++) {
    const z = logps.policyChosen[i] - logps.policyRejected[i] - (logps.referenceChosen[i] - logps.referenceRejected[i]);
    let dLossDz: number;
    if (lossType === 'sigmoid') {
      losses[i] = -(1 - smoothing) * logSigmoid(beta * z) - smoothing * logSigmoid(-beta * z);
      dLossDz = -(1 - smoothing) * beta * sigmoid(-beta * z) + smoothing * beta * sigmoid(beta * z);
    } else {
      const offset = z - 1 / (2 * beta);
      losses[i] = offset * offset;
      dLossDz = 2 * offset;
    }
    // The loss is the batch mean, so each pair's share of the gradient is 1 / pairs.
    gradPolicyChosen[i] = dLossDz / pairs;
    gradPolicyRejected[i] = -dLossDz / pairs;
    chosenRewards[i] = beta * (logps.policyChosen[i] - logps.referenceChosen[i]);
    rejectedRewards[i] = beta * (logps.policyRejected[i] - logps.referenceRejected[i]);
    if (chosenRewards[i] > rejectedRewards[i]) accurate++;
  }
  const loss = mean(losses);
  const metrics: DpoMetrics = {
    'rewards/chosen': mean(chosenRewards),
    'rewards/rejected': mean(rejectedRewards),
    'rewards/accuracies': accurate / pairs,
    'rewards/margins': mean(chosenRewards) - mean(rejectedRewards),
    'logps/chosen': mean(logps.policyChosen),
    'logps/rejected': mean(logps.policyRejected),
    loss,
  };
  return { losses, loss, chosenRewards, rejectedRewards, metrics, gradPolicyChosen, gradPolicyRejected };
}

/** One preference batch from the policy's logits: chosen and rejected rows share shape, pair i in row i of each. */
export interface PolicyPreferenceBatch {
  readonly chosenLogits: ArrayLike<number>;
  readonly rejectedLogits: ArrayLike<number>;
  readonly chosenLabels: ArrayLike<number>;
  readonly rejectedLabels: ArrayLike<number>;
  readonly pairs: number;
  readonly seqLen: number;
  readonly vocab: number;
  /** The frozen reference model's sequence log-probabilities, computed once beforehand. */
  readonly referenceChosen: ArrayLike<number>;
  readonly referenceRejected: ArrayLike<number>;
}

export interface DpoLogitsResult extends DpoLossResult {
  /** d loss / d logits for the chosen and rejected rows, shaped like the logits, for the model's backward pass. */
  readonly gradChosenLogits: Float32Array;
  readonly gradRejectedLogits: Float32Array;
}

export function dpoLossFromLogits(batch: PolicyPreferenceBatch, options: DpoLossOptions & SequenceLogProbOptions): DpoLogitsResult {
  validateDpoLossOptions(options);
  const { pairs: rows, seqLen, vocab } = batch;
  const chosen = { logits: batch.chosenLogits, labels: batch.chosenLabels, rows, seqLen, vocab };
  const rejected = { logits: batch.rejectedLogits, labels: batch.rejectedLabels, rows, seqLen, vocab };
  const result = dpoLoss(
    {
      policyChosen: sequenceLogProbs(chosen, options),
      policyRejected: sequenceLogProbs(rejected, options),
      referenceChosen: batch.referenceChosen,
      referenceRejected: batch.referenceRejected,
    },
    options,
  );
  return {
    ...result,
    gradChosenLogits: sequenceLogProbsBackward(chosen, result.gradPolicyChosen, options),
    gradRejectedLogits: sequenceLogProbsBackward(rejected, result.gradPolicyRejected, options),
  };
}

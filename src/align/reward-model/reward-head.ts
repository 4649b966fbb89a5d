import { InvalidInputError } from '../../errors.js';

/**
 * The scalar reward head of a BLOOM reward model, as Hugging Face's BloomForSequenceClassification with
 * num_labels=1: a bias-free `score` linear (hidden -> 1) applied to the final hidden state (ln_f's output)
 * at the last real token of each row.
 */

/** Shape of a batch of final hidden states `[batch, seqLen, hiddenSize]` and its attention mask `[batch, seqLen]`. */
export interface RewardBatchShape {
  readonly batch: number;
  readonly seqLen: number;
  readonly hiddenSize: number;
}

/**
 * The position of each row's last real token, read from the attention mask (the last 1 in the row).
 *
 * Deliberately differs from transformers 4.35.2, which takes (count of non-pad ids) - 1 from the row start:
 * that is the last real token for right-padded and unpadded rows but a padding position for left-padded ones.
 * Reading the mask gives the same reward for a sequence however it is padded.
 */
export function lastRealTokenPositions(mask: Uint8Array, batch: number, seqLen: number): Int32Array {
  if (mask.length !== batch * seqLen) {
    throw new InvalidInputError('attention_mask', `has ${mask.length} entries, expected ${batch} rows x ${seqLen} positions`);
  }
  const positions = new Int32Array(batch);
  for (let row = 0; row < batch; row++) {
    let last = -1;
    for (let t = seqLen - 1; t >= 0; t--) {
      if (mask[row * seqLen + t] !== 0) {
        last = t;
        break;
      }
    }
    if (last < 0) throw new InvalidInputError('attention_mask', `row ${row} has no real token, so it has no reward`);
    positions[row] = last;
  }
  return positions;
}

function checkShapes(hidden: Float32Array, scoreWeight: Float32Array, shape: RewardBatchShape): void {
  const { batch, seqLen, hiddenSize } = shape;
  if (hidden.length !== batch * seqLen * hiddenSize) {
    throw new InvalidInputError('hidden', `has ${hidden.length} values, expected ${batch} x ${seqLen} x ${hiddenSize}`);
  }
  if (scoreWeight.length !== hiddenSize) {
    throw new InvalidInputError('score.weight', `has ${scoreWeight.length} values, expected [1, ${hiddenSize}]`);
  }
}

/** One reward per row: score.weight · hidden[row, last real token]. Accumulated in f64, as the head is one dot product. */
export function rewardScores(hidden: Float32Array, mask: Uint8Array, scoreWeight: Float32Array, shape: RewardBatchShape): Float32Array {
  checkShapes(hidden, scoreWeight, shape);
  const { batch, seqLen, hiddenSize } = shape;
  const positions = lastRealTokenPositions(mask, batch, seqLen);
  const rewards = new Float32Array(batch);
  for (let row = 0; row < batch; row++) {
    const base = (row * seqLen + positions[row]) * hiddenSize;
    let sum = 0;
    for (let i = 0; i < hiddenSize; i++) sum += scoreWeight[i] * hidden[base + i];
    rewards[row] = sum;
  }
  return rewards;
}

export interface RewardHeadGradients {
  /** d loss / d score.weight, `[1, hiddenSize]`. */
  readonly scoreWeight: Float32Array;
  /** d loss / d final hidden states, `[batch, seqLen, hiddenSize]`: zero except at each row's last real token. */
  readonly hidden: Float32Array;
}

/**
 * Back through the head: given d loss / d reward per row, the gradients of the head weight and of the final
 * hidden states (the `dFinal` that the BLOOM backward pass continues from through ln_f).
 */
export function rewardHeadBackward(
  hidden: Float32Array,
  mask: Uint8Array,
  scoreWeight: Float32Array,
  shape: RewardBatchShape,
  dRewards: Float32Array,
): RewardHeadGradients {
  checkShapes(hidden, scoreWeight, shape);
  const { batch, seqLen, hiddenSize } = shape;
  if (dRewards.length !== batch) throw new InvalidInputError('dRewards', `has ${dRewards.length} values, expected one per row (${batch})`);
  const positions = lastRealTokenPositions(mask, batch, seqLen);
  const dWeight = new Float64Array(hiddenSize);
  const dHidden = new Float32Array(hidden.length);
  for (let row = 0; row < batch; row++) {
    const base = (row * seqLen + positions[row]) * hiddenSize;
    const g = dRewards[row];
    for (let i = 0; i < hiddenSize; i++) {
      dWeight[i] += g * hidden[base + i];
      dHidden[base + i] = g * scoreWeight[i];
    }
  }
  return { scoreWeight: Float32Array.from(dWeight), hidden: dHidden };
}

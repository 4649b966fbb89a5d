/**
 * One reward-model training step, as trl's RewardTrainer with a peft LoRA model (task_type SEQ_CLS): the
 * chosen and rejected rows go through the model as one batch, the score head reads each row's last real
 * token, the Bradley-Terry loss compares the pairs, and the gradients reach the LoRA tensors (through the
 * BLOOM backward pass) and the score head, which is trained in full as peft's SEQ_CLS models train `score`.
 */
import type { BloomModel } from '../../models/bloom/model.js';
import type { LoraAdapter } from '../../peft/lora/model.js';
import { asTrainingBackend } from '../../engine/training-backend.js';
import { forwardBackwardWithLoss, type ForwardBackwardOptions } from '../../train/bloom-backward.js';
import { ADAMW_DEFAULTS, AdamW, type AdamWOptions } from '../../train/optimizer.js';
import { trainableParameters } from '../../train/trainable-parameters.js';
import { bradleyTerryLoss } from './bradley-terry.js';
import type { RewardBatch } from './preference-batch.js';
import { rewardHeadBackward, rewardScores } from './reward-head.js';

/** The head's tensor name in peft's SEQ_CLS adapter files, and the name its gradient goes by. */
export const SCORE_WEIGHT_NAME = 'base_model.model.score.weight';

export interface RewardModelTrainables {
  readonly lora: LoraAdapter;
  /** score.weight, `[1, hiddenSize]`; updated in place. */
  readonly scoreWeight: Float32Array;
}

export interface RewardStepOptions extends ForwardBackwardOptions {
  readonly centerRewardsCoefficient?: number;
}

export interface RewardStepResult {
  readonly loss: number;
  readonly rewardsChosen: Float32Array;
  readonly rewardsRejected: Float32Array;
  /** LoRA gradients under peft's names, and the head's under SCORE_WEIGHT_NAME. */
  readonly grads: Map<string, Float32Array>;
}

/** The Bradley-Terry loss of a batch and, unless `options.gradients` is false, its gradients. */
export function rewardLossAndGradients(model: BloomModel, batch: RewardBatch, trainables: RewardModelTrainables, options: RewardStepOptions = {}): RewardStepResult {
  const { centerRewardsCoefficient, ...forwardOptions } = options;
  let rewardsChosen = new Float32Array(0);
  let rewardsRejected = new Float32Array(0);
  let scoreGradient: Float32Array | undefined;
  const { loss, grads } = forwardBackwardWithLoss(
    model,
    batch,
    { lora: trainables.lora },
    {
      on: 'hidden',
      lossAndGradient: ({ values, batch: rows, seqLen, width, mask }) => {
        const shape = { batch: rows, seqLen, hiddenSize: width };
        const rewards = rewardScores(values, mask, trainables.scoreWeight, shape);
        rewardsChosen = rewards.slice(0, batch.pairs);
        rewardsRejected = rewards.slice(batch.pairs);
        const bt = bradleyTerryLoss(rewardsChosen, rewardsRejected, { ...(batch.margin ? { margin: batch.margin } : {}), ...(centerRewardsCoefficient !== undefined ? { centerRewardsCoefficient } : {}) });
        const dRewards = new Float32Array(rows);
        dRewards.set(bt.dChosen, 0);
        dRewards.set(bt.dRejected, batch.pairs);
        const head = rewardHeadBackward(values, mask, trainables.scoreWeight, shape, dRewards);
        scoreGradient = head.scoreWeight;
        return { loss: bt.loss, gradient: head.hidden };
      },
    },
    forwardOptions,
  );
  if (options.gradients !== false && scoreGradient) grads.set(SCORE_WEIGHT_NAME, scoreGradient);
  return { loss, rewardsChosen, rewardsRejected, grads };
}

/** AdamW over the LoRA tensors and the score head together, one `step` per batch. */
export class RewardModelTraining {
  readonly optimizer: AdamW;

  constructor(
    readonly model: BloomModel,
    readonly trainables: RewardModelTrainables,
    optimizerOptions: AdamWOptions = ADAMW_DEFAULTS,
  ) {
    const parameters = trainableParameters({ lora: trainables.lora });
    parameters.set(SCORE_WEIGHT_NAME, trainables.scoreWeight);
    this.optimizer = new AdamW(asTrainingBackend(model.backend), parameters, optimizerOptions);
  }

  /** Loss before the update, as trl logs it. */
  step(batch: RewardBatch, options: RewardStepOptions = {}): RewardStepResult {
    const result = rewardLossAndGradients(this.model, batch, this.trainables, options);
    this.optimizer.update(result.grads);
    return result;
  }
}

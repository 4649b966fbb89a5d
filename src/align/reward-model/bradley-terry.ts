import { InvalidInputError } from '../../errors.js';

/**
 * The pairwise (Bradley-Terry) reward-model loss, as trl's RewardTrainer.compute_loss:
 *   loss = -mean(logsigmoid(r_chosen - r_rejected - margin)) + c * mean((r_chosen + r_rejected)^2)
 * where margin is optional and per pair, and c is `center_rewards_coefficient` (RewardTrainer's since trl 0.11),
 * which keeps rewards centred on zero since the pairwise term sees only differences. trl's collator stores the
 * margin as [batch] against [batch, 1] rewards, so its subtraction broadcasts to [batch, batch]; tuneloop applies
 * margin i to pair i, as trl's docs describe (the reference passes trl a [batch, 1] margin to match).
 */
export interface BradleyTerryOptions {
  /** One margin per pair: how much the chosen reward must exceed the rejected one. */
  readonly margin?: Float32Array;
  readonly centerRewardsCoefficient?: number;
}

export interface BradleyTerryResult {
  readonly loss: number;
  /** d loss / d r_chosen, one per pair. */
  readonly dChosen: Float32Array;
  /** d loss / d r_rejected, one per pair. */
  readonly dRejected: Float32Array;
}

/** -log(sigmoid(x)) = softplus(-x), written so neither large positive nor large negative x overflows. */
function negativeLogSigmoid(x: number): number {
  return x >= 0 ? Math.log1p(Math.exp(-x)) : -x + Math.log1p(Math.exp(x));
}

function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

export function bradleyTerryLoss(chosen: Float32Array, rejected: Float32Array, options: BradleyTerryOptions = {}): BradleyTerryResult {
  const pairs = chosen.length;
  if (pairs === 0) throw new InvalidInputError('rewards_chosen', 'is empty: the loss needs at least one pair');
  if (rejected.length !== pairs) throw new InvalidInputError('rewards_rejected', `has ${rejected.length} values for ${pairs} chosen rewards`);
  const { margin, centerRewardsCoefficient = 0 } = options;
  if (margin && margin.length !== pairs) throw new InvalidInputError('margin', `has ${margin.length} values for ${pairs} pairs`);
  if (!Number.isFinite(centerRewardsCoefficient)) throw new InvalidInputError('center_rewards_coefficient', `is ${centerRewardsCoefficient}, expected a finite number`);
  let loss = 0;
  const dChosen = new Float32Array(pairs);
  const dRejected = new Float32Array(pairs);
  for (let i = 0; i < pairs; i++) {
    const x = chosen[i] - rejected[i] - (margin ? margin[i] : 0);
    loss += negativeLogSigmoid(x) / pairs;
    // d/dx softplus(-x) = -sigmoid(-x).
    const dx = -sigmoid(-x) / pairs;
    const sum = chosen[i] + rejected[i];
    loss += (centerRewardsCoefficient * sum * sum) / pairs;
    const dCentre = (2 * centerRewardsCoefficient * sum) / pairs;
    dChosen[i] = dx + dCentre;
    dRejected[i] = -dx + dCentre;
  }
  return { loss, dChosen, dRejected };
}

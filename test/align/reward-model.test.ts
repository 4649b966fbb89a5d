import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { bradleyTerryLoss } from '../../src/align/reward-model/bradley-terry.js';
import { lastRealTokenPositions, rewardHeadBackward, rewardScores } from '../../src/align/reward-model/reward-head.js';
import { InvalidInputError } from '../../src/errors.js';
import { BloomModel } from '../../src/models/bloom/model.js';
import { backendCases } from '../helpers/backends.js';
import { assertClose, relativeDiff } from '../helpers/numeric.js';
import { referenceDir, repoRoot } from '../helpers/paths.js';

/** test/fixtures/align/reward/ref_<a|b>.json, written by scripts/reference/reward_model_reference.py. */
interface LossReference {
  readonly margin: number[] | null;
  readonly center_rewards_coefficient: number;
  readonly loss: number;
  readonly grad_score_weight: number[];
  readonly grad_hidden_chosen: number[];
  readonly grad_hidden_rejected: number[];
}
interface RewardReference {
  readonly hidden_size: number;
  readonly pad_token_id: number;
  readonly score_weight: number[];
  readonly rows: { ids: number[]; reward: number }[];
  readonly padded: {
    chosen_ids: number[][];
    chosen_mask: number[][];
    rejected_ids: number[][];
    rejected_mask: number[][];
    rewards: { chosen: number[]; rejected: number[] };
  };
  readonly losses: Record<'plain' | 'margin_centered', LossReference>;
}

function readReference(which: 'a' | 'b'): RewardReference {
  return JSON.parse(readFileSync(join(repoRoot, 'test', 'fixtures', 'align', 'reward', `ref_${which}.json`), 'utf8')) as RewardReference;
}

interface Batch {
  readonly ids: Int32Array;
  readonly mask: Uint8Array;
  readonly batch: number;
  readonly seqLen: number;
}

function batchOf(ids: number[][], mask: number[][]): Batch {
  return { ids: Int32Array.from(ids.flat()), mask: Uint8Array.from(mask.flat()), batch: ids.length, seqLen: ids[0].length };
}

/** The same rows padded on the left to `width`. */
function leftPadded(rows: number[][], padId: number, width: number): Batch {
  return batchOf(
    rows.map((r) => [...new Array<number>(width - r.length).fill(padId), ...r]),
    rows.map((r) => [...new Array<number>(width - r.length).fill(0), ...new Array<number>(r.length).fill(1)]),
  );
}

function finalHidden(model: BloomModel, b: Batch): Float32Array {
  return model.forward({ ids: b.ids, batch: b.batch, mask: b.mask }).hidden;
}

describe('last real token from the attention mask', () => {
  test('left, right and no padding', () => {
    assert.deepEqual([...lastRealTokenPositions(Uint8Array.from([0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1]), 3, 4)], [3, 1, 3]);
  });
  test('a row with no real token is named', () => {
    assert.throws(() => lastRealTokenPositions(Uint8Array.from([1, 1, 0, 0]), 2, 2), (e: unknown) => InvalidInputError.isInstance(e) && /row 1 has no real token/.test(e.message));
  });
});

describe('Bradley-Terry loss', () => {
  test('gradient matches central differences, with margin and centring', () => {
    const chosen = Float32Array.from([0.3, -1.2, 2.5]);
    const rejected = Float32Array.from([0.1, 0.4, -0.7]);
    const options = { margin: Float32Array.from([0.5, 0, -0.2]), centerRewardsCoefficient: 0.05 };
    const { dChosen, dRejected } = bradleyTerryLoss(chosen, rejected, options);
    const h = 1e-3;
    for (const [rewards, grad] of [[chosen, dChosen], [rejected, dRejected]] as const) {
      for (let i = 0; i < rewards.length; i++) {
        const original = rewards[i];
        rewards[i] = original + h;
        const up = bradleyTerryLoss(chosen, rejected, options).loss;
        rewards[i] = original - h;
        const down = bradleyTerryLoss(chosen, rejected, options).loss;
        rewards[i] = original;
        assert.ok(Math.abs((up - down) / (2 * h) - grad[i]) < 1e-4, `pair ${i}: ${(up - down) / (2 * h)} vs ${grad[i]}`);
      }
    }
  });
  test('large reward gaps stay finite', () => {
    const { loss, dChosen } = bradleyTerryLoss(Float32Array.from([-500]), Float32Array.from([500]));
    assert.ok(Math.abs(loss - 1000) < 1e-6 && Math.abs(dChosen[0] + 1) < 1e-6, `loss ${loss}, grad ${dChosen[0]}`);
  });
  test('mismatched margins are named', () => {
    assert.throws(() => bradleyTerryLoss(Float32Array.from([1, 2]), Float32Array.from([0, 0]), { margin: Float32Array.from([1]) }), /margin: has 1 values for 2 pairs/);
  });
});

const cases = await backendCases();
for (const which of ['a', 'b'] as const) {
  const ref = readReference(which);
  const scoreWeight = Float32Array.from(ref.score_weight);
  const hiddenSize = ref.hidden_size;
  const chosenRows = ref.padded.chosen_ids.map((_, i) => ref.rows[i].ids);
  const rejectedRows = ref.padded.rejected_ids.map((_, i) => ref.rows[chosenRows.length + i].ids);

  for (const { name: backendName, backend, skipReason } of cases) {
    describe(`fixture ${which}, ${backendName} backend: reward model equals BloomForSequenceClassification and trl`, { skip: skipReason }, () => {
      const model = BloomModel.load(join(referenceDir, `ckpt_${which}`), { backend: backend!, dtype: 'f32' });
      const chosen = batchOf(ref.padded.chosen_ids, ref.padded.chosen_mask);
      const rejected = batchOf(ref.padded.rejected_ids, ref.padded.rejected_mask);
      const chosenHidden = finalHidden(model, chosen);
      const rejectedHidden = finalHidden(model, rejected);
      const score = (b: Batch, hidden: Float32Array): Float32Array => rewardScores(hidden, b.mask, scoreWeight, { batch: b.batch, seqLen: b.seqLen, hiddenSize });

      test('unpadded rows: rewards within 1e-4', () => {
        for (const row of ref.rows) {
          const b = batchOf([row.ids], [row.ids.map(() => 1)]);
          const [reward] = score(b, finalHidden(model, b));
          assert.ok(Math.abs(reward - row.reward) < 1e-4, `ids ${row.ids.join(' ')}: ${reward} vs ${row.reward}`);
        }
      });

      test('right-padded batches: rewards within 1e-4 of HF', () => {
        assertClose(score(chosen, chosenHidden), ref.padded.rewards.chosen, 0, 'chosen', 1e-4);
        assertClose(score(rejected, rejectedHidden), ref.padded.rewards.rejected, 0, 'rejected', 1e-4);
      });

      test('left-padded rows score as their unpadded selves (where HF 4.35.2 reads a pad position)', () => {
        const all = [...chosenRows, ...rejectedRows];
        const b = leftPadded(all, ref.pad_token_id, Math.max(...all.map((r) => r.length)) + 1);
        assertClose(score(b, finalHidden(model, b)), ref.rows.map((r) => r.reward), 0, 'left-padded', 1e-4);
      });

      for (const name of ['plain', 'margin_centered'] as const) {
        test(`${name}: loss, d score.weight and d final hidden states within 1e-4 relative`, () => {
          const expected = ref.losses[name];
          const result = bradleyTerryLoss(score(chosen, chosenHidden), score(rejected, rejectedHidden), {
            margin: expected.margin ? Float32Array.from(expected.margin) : undefined,
            centerRewardsCoefficient: expected.center_rewards_coefficient,
          });
          assert.ok(Math.abs(result.loss - expected.loss) <= 1e-4 * Math.abs(expected.loss), `loss ${result.loss} vs ${expected.loss}`);
          const chosenGrads = rewardHeadBackward(chosenHidden, chosen.mask, scoreWeight, { batch: chosen.batch, seqLen: chosen.seqLen, hiddenSize }, result.dChosen);
          const rejectedGrads = rewardHeadBackward(rejectedHidden, rejected.mask, scoreWeight, { batch: rejected.batch, seqLen: rejected.seqLen, hiddenSize }, result.dRejected);
          const dWeight = chosenGrads.scoreWeight.map((v, i) => v + rejectedGrads.scoreWeight[i]);
          for (const [label, actual, wanted] of [
            ['score.weight', dWeight, expected.grad_score_weight],
            ['hidden (chosen)', chosenGrads.hidden, expected.grad_hidden_chosen],
            ['hidden (rejected)', rejectedGrads.hidden, expected.grad_hidden_rejected],
          ] as const) {
            const diff = relativeDiff(actual, wanted);
            assert.ok(diff < 1e-4, `${label}: relative difference ${diff}`);
          }
        });
      }
    });
  }
}

/**
 * DPO/cDPO/IPO losses, rewards, logged metrics and gradients against trl v0.7.11's own `dpo_loss` and
 * `get_batch_logps` (scripts/reference/dpo_reference.py on random logits, dpo_reference_ckpt_a.py on the fixture
 * checkpoint's LoRA and base logits; both run trl in float64 with torch autograd gradients).
 * Both sides compute in float64 from the same float32-representable logits, so values agree to 1e-6
 * (absolute plus relative: |diff| <= 1e-6 · (|expected| + rms)); gradients to 1e-4 of the tensor's largest
 * magnitude (the logits gradient is returned as float32 for the backward pass).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { dpoLoss, dpoLossFromLogits, type DpoLossType } from '../../src/align/dpo/dpo-loss.js';
import { sequenceLogProbs, sequenceLogProbsBackward } from '../../src/align/dpo/sequence-logps.js';
import { InvalidInputError } from '../../src/errors.js';
import { assertClose, relativeDiff } from '../helpers/numeric.js';
import { repoRoot } from '../helpers/paths.js';
import { loadReference } from '../helpers/reference.js';

interface ReferenceCase {
  loss_type: DpoLossType;
  beta: number;
  label_smoothing: number;
  average_log_prob: boolean;
  losses: number[];
  chosen_rewards: number[];
  rejected_rewards: number[];
  metrics: Record<string, number>;
  grad_policy_chosen_logps: number[];
  grad_policy_rejected_logps: number[];
  grad_policy_chosen_logits: number[];
  grad_policy_rejected_logits: number[];
}

type LogpsKey = 'policy_chosen' | 'policy_rejected' | 'reference_chosen' | 'reference_rejected';

const reference = JSON.parse(readFileSync(join(repoRoot, 'test', 'fixtures', 'align', 'dpo', 'dpo_reference.json'), 'utf8')) as {
  pairs: number;
  seq_len: number;
  vocab: number;
  policy_chosen_logits: number[];
  policy_rejected_logits: number[];
  reference_chosen_logits: number[];
  reference_rejected_logits: number[];
  chosen_labels: number[];
  rejected_labels: number[];
  logps: Record<'sum' | 'average', Record<LogpsKey, number[]>>;
  cases: ReferenceCase[];
};

const VALUE_TOLERANCE = 1e-6;
const GRADIENT_TOLERANCE = 1e-4;
// trl takes rewards/accuracies as a float32 mean (1/3 -> 0.3333333433) and a margin can be a rounding-level 1e-17.
const METRIC_ABSOLUTE_TOLERANCE = 1e-8;
const shape = { rows: reference.pairs, seqLen: reference.seq_len, vocab: reference.vocab };

function batch(which: LogpsKey) {
  const labels = which.endsWith('chosen') ? reference.chosen_labels : reference.rejected_labels;
  return { ...shape, logits: Float32Array.from(reference[`${which}_logits`]), labels: Int32Array.from(labels) };
}

describe('sequence log-probabilities (trl get_batch_logps)', () => {
  for (const form of ['sum', 'average'] as const) {
    it(`match trl's ${form} over completion positions, -100 labels masked`, () => {
      for (const which of ['policy_chosen', 'policy_rejected', 'reference_chosen', 'reference_rejected'] as const) {
        assertClose(sequenceLogProbs(batch(which), { average: form === 'average' }), reference.logps[form][which], VALUE_TOLERANCE, `${form} ${which}`);
      }
    });
  }

  it('backward matches a central finite difference of the forward', () => {
    const chosen = batch('policy_chosen');
    const upstream = [0.7, -1.3, 0.4];
    const grad = sequenceLogProbsBackward(chosen, upstream, { average: true });
    const objective = (logits: Float32Array) => {
      const values = sequenceLogProbs({ ...chosen, logits }, { average: true });
      return values.reduce((sum, value, row) => sum + value * upstream[row], 0);
    };
    const step = 1e-2;
    for (const index of [0, 5, 40, 97, 150, 200, chosen.logits.length - 1]) {
      const plus = Float32Array.from(chosen.logits);
      const minus = Float32Array.from(chosen.logits);
      plus[index] += step;
      minus[index] -= step;
      const numeric = (objective(plus) - objective(minus)) / (plus[index] - minus[index]);
      assert.ok(Math.abs(grad[index] - numeric) < 1e-4, `logit ${index}: analytic ${grad[index]}, numeric ${numeric}`);
    }
  });
});

describe('DPO losses (trl dpo_loss)', () => {
  for (const testCase of reference.cases) {
    const form = testCase.average_log_prob ? 'average' : 'sum';
    const name = `${testCase.loss_type} beta=${testCase.beta} label_smoothing=${testCase.label_smoothing} ${form} log-probs`;
    const options = { lossType: testCase.loss_type, beta: testCase.beta, labelSmoothing: testCase.label_smoothing };

    it(`${name}: losses, rewards, metrics and log-prob gradients match trl`, () => {
      const logps = reference.logps[form];
      const result = dpoLoss(
        {
          policyChosen: logps.policy_chosen,
          policyRejected: logps.policy_rejected,
          referenceChosen: logps.reference_chosen,
          referenceRejected: logps.reference_rejected,
        },
        options,
      );
      assertClose(result.losses, testCase.losses, VALUE_TOLERANCE, 'losses');
      assertClose(result.chosenRewards, testCase.chosen_rewards, VALUE_TOLERANCE, 'chosen_rewards');
      assertClose(result.rejectedRewards, testCase.rejected_rewards, VALUE_TOLERANCE, 'rejected_rewards');
      assert.deepEqual(Object.keys(result.metrics).sort(), Object.keys(testCase.metrics).sort());
      for (const [key, expected] of Object.entries(testCase.metrics)) {
        assertClose([result.metrics[key as keyof typeof result.metrics]], [expected], VALUE_TOLERANCE, key, METRIC_ABSOLUTE_TOLERANCE);
      }
      assert.ok(relativeDiff(result.gradPolicyChosen, testCase.grad_policy_chosen_logps) <= GRADIENT_TOLERANCE, 'd loss / d policy chosen logps');
      assert.ok(relativeDiff(result.gradPolicyRejected, testCase.grad_policy_rejected_logps) <= GRADIENT_TOLERANCE, 'd loss / d policy rejected logps');
    });

    it(`${name}: from logits, loss and d loss / d logits match trl's autograd`, () => {
      const result = dpoLossFromLogits(
        {
          chosenLogits: batch('policy_chosen').logits,
          rejectedLogits: batch('policy_rejected').logits,
          chosenLabels: reference.chosen_labels,
          rejectedLabels: reference.rejected_labels,
          pairs: reference.pairs,
          seqLen: reference.seq_len,
          vocab: reference.vocab,
          referenceChosen: reference.logps[form].reference_chosen,
          referenceRejected: reference.logps[form].reference_rejected,
        },
        { ...options, average: testCase.average_log_prob },
      );
      assertClose([result.loss], [testCase.metrics.loss], VALUE_TOLERANCE, 'loss');
      const chosenDiff = relativeDiff(result.gradChosenLogits, testCase.grad_policy_chosen_logits);
      const rejectedDiff = relativeDiff(result.gradRejectedLogits, testCase.grad_policy_rejected_logits);
      assert.ok(chosenDiff <= GRADIENT_TOLERANCE, `d loss / d chosen logits: relative diff ${chosenDiff}`);
      assert.ok(rejectedDiff <= GRADIENT_TOLERANCE, `d loss / d rejected logits: relative diff ${rejectedDiff}`);
    });
  }
});

describe('DPO on the fixture checkpoint ckpt_a (LoRA policy, base reference)', () => {
  const dir = join(repoRoot, 'test', 'fixtures', 'align', 'dpo');
  const ckpt = JSON.parse(readFileSync(join(dir, 'ckpt_a_reference.json'), 'utf8')) as {
    rejected_order: number[];
    chosen_labels: number[];
    rejected_labels: number[];
    cases: (ReferenceCase & Record<`${LogpsKey}_logps`, number[]>)[];
  };
  const ref = loadReference('a');
  const [pairs, seqLen, vocab] = ref.shape('lora_logits');
  const rowSize = seqLen * vocab;
  const reorder = (logits: Float32Array) => {
    const out = new Float32Array(logits.length);
    ckpt.rejected_order.forEach((source, row) => out.set(logits.subarray(source * rowSize, (source + 1) * rowSize), row * rowSize));
    return out;
  };
  const policy = ref.f32('lora_logits');
  const base = ref.f32('logits');
  const shapeA = { rows: pairs, seqLen, vocab };
  const batches = {
    policy_chosen: { ...shapeA, logits: policy, labels: ckpt.chosen_labels },
    policy_rejected: { ...shapeA, logits: reorder(policy), labels: ckpt.rejected_labels },
    reference_chosen: { ...shapeA, logits: base, labels: ckpt.chosen_labels },
    reference_rejected: { ...shapeA, logits: reorder(base), labels: ckpt.rejected_labels },
  };
  const gradBytes = readFileSync(join(dir, 'ckpt_a_grad_logits.bin'));
  const expectedGradLogits = new Float32Array(gradBytes.buffer.slice(gradBytes.byteOffset, gradBytes.byteOffset + gradBytes.byteLength));

  ckpt.cases.forEach((testCase, index) => {
    const average = testCase.average_log_prob;
    it(`${testCase.loss_type} beta=${testCase.beta} label_smoothing=${testCase.label_smoothing} ${average ? 'average' : 'sum'}: log-probs, loss, rewards, metrics and gradients match trl`, () => {
      for (const which of ['policy_chosen', 'policy_rejected', 'reference_chosen', 'reference_rejected'] as const) {
        assertClose(sequenceLogProbs(batches[which], { average }), testCase[`${which}_logps`], VALUE_TOLERANCE, `${which} logps`);
      }
      const result = dpoLossFromLogits(
        {
          chosenLogits: batches.policy_chosen.logits,
          rejectedLogits: batches.policy_rejected.logits,
          chosenLabels: ckpt.chosen_labels,
          rejectedLabels: ckpt.rejected_labels,
          pairs,
          seqLen,
          vocab,
          referenceChosen: sequenceLogProbs(batches.reference_chosen, { average }),
          referenceRejected: sequenceLogProbs(batches.reference_rejected, { average }),
        },
        { lossType: testCase.loss_type, beta: testCase.beta, labelSmoothing: testCase.label_smoothing, average },
      );
      assertClose(result.losses, testCase.losses, VALUE_TOLERANCE, 'losses');
      assertClose(result.chosenRewards, testCase.chosen_rewards, VALUE_TOLERANCE, 'chosen_rewards');
      assertClose(result.rejectedRewards, testCase.rejected_rewards, VALUE_TOLERANCE, 'rejected_rewards');
      for (const [key, expected] of Object.entries(testCase.metrics)) {
        assertClose([result.metrics[key as keyof typeof result.metrics]], [expected], VALUE_TOLERANCE, key, METRIC_ABSOLUTE_TOLERANCE);
      }
      assert.ok(relativeDiff(result.gradPolicyChosen, testCase.grad_policy_chosen_logps) <= GRADIENT_TOLERANCE, 'd loss / d policy chosen logps');
      assert.ok(relativeDiff(result.gradPolicyRejected, testCase.grad_policy_rejected_logps) <= GRADIENT_TOLERANCE, 'd loss / d policy rejected logps');
      if (index === 0) {
        const half = pairs * rowSize;
        const chosenDiff = relativeDiff(result.gradChosenLogits, expectedGradLogits.subarray(0, half));
        const rejectedDiff = relativeDiff(result.gradRejectedLogits, expectedGradLogits.subarray(half));
        assert.ok(chosenDiff <= GRADIENT_TOLERANCE, `d loss / d chosen logits: relative diff ${chosenDiff}`);
        assert.ok(rejectedDiff <= GRADIENT_TOLERANCE, `d loss / d rejected logits: relative diff ${rejectedDiff}`);
      }
    });
  });
});

describe('DPO bad input', () => {
  const logps = { policyChosen: [-3, -4], policyRejected: [-5, -2], referenceChosen: [-3.5, -4], referenceRejected: [-4, -2.5] };
  const rejectsField = (run: () => unknown, field: string) =>
    assert.throws(run, (error: unknown) => InvalidInputError.isInstance(error) && error.field === field, `expected an error naming ${field}`);

  it('beta <= 0 or not finite names beta', () => {
    for (const beta of [0, -0.1, Number.NaN, Number.POSITIVE_INFINITY]) rejectsField(() => dpoLoss(logps, { lossType: 'sigmoid', beta }), 'beta');
  });

  it('label_smoothing outside [0, 0.5), or set with ipo, names label_smoothing', () => {
    for (const labelSmoothing of [-0.01, 0.5, 0.7, Number.NaN]) {
      rejectsField(() => dpoLoss(logps, { lossType: 'sigmoid', beta: 0.1, labelSmoothing }), 'label_smoothing');
    }
    rejectsField(() => dpoLoss(logps, { lossType: 'ipo', beta: 0.1, labelSmoothing: 0.1 }), 'label_smoothing');
  });

  it('an unknown loss type names loss_type', () => {
    rejectsField(() => dpoLoss(logps, { lossType: 'hinge' as DpoLossType, beta: 0.1 }), 'loss_type');
  });

  it('log-prob arrays of different lengths name the mismatched one', () => {
    rejectsField(() => dpoLoss({ ...logps, referenceRejected: [-1] }, { lossType: 'sigmoid', beta: 0.1 }), 'reference_rejected_logps');
    rejectsField(() => dpoLoss({ ...logps, policyRejected: [-1, -2, -3] }, { lossType: 'sigmoid', beta: 0.1 }), 'policy_rejected_logps');
    rejectsField(() => dpoLoss({ policyChosen: [], policyRejected: [], referenceChosen: [], referenceRejected: [] }, { lossType: 'ipo', beta: 0.1 }), 'policy_chosen_logps');
  });

  it('logits or labels of the wrong shape, or labels outside the vocabulary, name the field', () => {
    const good = batch('policy_chosen');
    rejectsField(() => sequenceLogProbs({ ...good, logits: good.logits.subarray(1) }), 'logits');
    rejectsField(() => sequenceLogProbs({ ...good, labels: good.labels.subarray(1) }), 'labels');
    rejectsField(() => sequenceLogProbs({ ...good, labels: Int32Array.from(good.labels, () => reference.vocab) }), 'labels');
    rejectsField(() => sequenceLogProbs({ ...good, vocab: 0 }), 'vocab');
    rejectsField(() => sequenceLogProbsBackward(good, [1]), 'grad_log_probs');
  });

  it('an averaged row with no completion tokens names labels instead of returning NaN', () => {
    const good = batch('policy_chosen');
    const labels = Int32Array.from(good.labels);
    labels.fill(-100, 0, reference.seq_len);
    assert.ok(Number.isFinite(sequenceLogProbs({ ...good, labels })[0]), 'the summed form of an empty row is 0');
    rejectsField(() => sequenceLogProbs({ ...good, labels }, { average: true }), 'labels');
  });
});

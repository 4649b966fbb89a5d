import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../../../src/errors.js';
import { accuracy, binaryF1, f1ForClass, macroF1, matthewsCorrelation } from '../../../src/eval/metrics/classification.js';
import { metricsReference } from './reference-fixture.js';

describe('classification metrics by hand', () => {
  const golds = [0, 0, 1, 1, 2, 2];
  const preds = [0, 1, 1, 1, 2, 0];

  it('accuracy counts matches', () => {
    assert.equal(accuracy(golds, preds), 4 / 6);
  });

  it('per-class F1 is 2tp / (2tp + fp + fn)', () => {
    // class 0: tp 1, fp 1 (item 5), fn 1 (item 1) -> 2/4; class 1: tp 2, fp 1 -> 4/5; class 2: tp 1, fn 1 -> 2/3
    assert.equal(f1ForClass(golds, preds, 0), 0.5);
    assert.equal(f1ForClass(golds, preds, 1), 0.8);
    assert.equal(f1ForClass(golds, preds, 2), 2 / 3);
    assert.equal(macroF1(golds, preds), (0.5 + 0.8 + 2 / 3) / 3);
  });

  it('a class that is never true nor predicted scores 0 when the labels are fixed (lm-eval CB F1)', () => {
    assert.equal(macroF1([0, 1], [0, 1], [0, 1, 2]), 2 / 3);
    assert.equal(macroF1([0, 1], [0, 1]), 1);
  });

  it('binary F1 of the positive class', () => {
    assert.equal(binaryF1([1, 1, 0, 0], [1, 0, 1, 0]), 0.5);
    assert.equal(binaryF1([0, 0], [0, 0]), 0);
  });

  it('MCC is 1 for perfect, -1 for inverted binary predictions and 0 for a constant predictor', () => {
    assert.equal(matthewsCorrelation([0, 1, 0, 1], [0, 1, 0, 1]), 1);
    assert.equal(matthewsCorrelation([0, 1, 0, 1], [1, 0, 1, 0]), -1);
    assert.equal(matthewsCorrelation([0, 1, 2], [1, 1, 1]), 0);
  });

  it('string labels work as well as numbers', () => {
    assert.equal(accuracy(['yes', 'no'], ['yes', 'yes']), 0.5);
    assert.equal(macroF1(['yes', 'no'], ['yes', 'yes']), (0 + 2 / 3) / 2);
  });

  it('mismatched or empty inputs are errors', () => {
    assert.throws(() => accuracy([0, 1], [0]), InvalidInputError);
    assert.throws(() => matthewsCorrelation([], []), InvalidInputError);
  });
});

describe('classification metrics equal scikit-learn', () => {
  for (const c of metricsReference.classification) {
    it(c.name, () => {
      assert.ok(Math.abs(accuracy(c.golds, c.preds) - c.accuracy) < 1e-12);
      assert.ok(Math.abs(macroF1(c.golds, c.preds) - c.macro_f1) < 1e-12, `macro F1 ${macroF1(c.golds, c.preds)} vs ${c.macro_f1}`);
      assert.ok(Math.abs(matthewsCorrelation(c.golds, c.preds) - c.mcc) < 1e-12, `MCC ${matthewsCorrelation(c.golds, c.preds)} vs ${c.mcc}`);
      if (c.labels) assert.ok(Math.abs(macroF1(c.golds, c.preds, c.labels) - c.macro_f1_over_labels!) < 1e-12);
      if (c.binary_f1 !== undefined) assert.ok(Math.abs(binaryF1(c.golds, c.preds) - c.binary_f1) < 1e-12);
    });
  }
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../../../src/errors.js';
import { expectedCalibrationError } from '../../../src/eval/metrics/calibration.js';
import { metricsReference } from './reference-fixture.js';

describe('expected calibration error by hand', () => {
  it('equal-width: each bin weighs |mean confidence - accuracy| by its share of items', () => {
    // bin (0.1, 0.2]: 0.15, 0.2 (conf 0.175, acc 0.5); bin (0.8, 0.9]: 0.9, 0.9 (conf 0.9, acc 1)
    const ece = expectedCalibrationError([0.15, 0.2, 0.9, 0.9], [1, 0, 1, 1], { binning: 'equal-width' });
    assert.ok(Math.abs(ece - (0.5 * 0.325 + 0.5 * 0.1)) < 1e-12);
  });

  it('equal-mass: two bins of two sorted confidences each', () => {
    // sorted 0.2, 0.4 | 0.6, 0.8 -> edge 0.5; bin 1: conf 0.3 acc 0; bin 2: conf 0.7 acc 1
    const ece = expectedCalibrationError([0.8, 0.2, 0.6, 0.4], [true, false, true, false], { bins: 2 });
    assert.ok(Math.abs(ece - 0.3) < 1e-12);
  });

  it('a perfectly calibrated constant predictor has zero error', () => {
    assert.equal(expectedCalibrationError([0.5, 0.5, 0.5, 0.5], [1, 0, 1, 0]), 0);
  });

  it('rejects confidences outside [0, 1] and outcomes that are not 0/1', () => {
    assert.throws(() => expectedCalibrationError([1.5], [1]), InvalidInputError);
    assert.throws(() => expectedCalibrationError([0.5], [2]), InvalidInputError);
  });
});

describe('expected calibration error equals uncertainty-calibration (HELM ece_10_bin)', () => {
  for (const c of metricsReference.calibration) {
    it(c.name, () => {
      const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);
      close(expectedCalibrationError(c.confidences, c.correct), c.ece_equal_mass_10);
      close(expectedCalibrationError(c.confidences, c.correct, { binning: 'equal-width' }), c.ece_equal_width_10);
      close(expectedCalibrationError(c.confidences, c.correct, { bins: 3 }), c.ece_equal_mass_3);
    });
  }
});

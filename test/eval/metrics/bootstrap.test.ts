import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bootstrapConfidenceInterval, quantile } from '../../../src/eval/metrics/bootstrap.js';
import { accuracy } from '../../../src/eval/metrics/classification.js';

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('bootstrap confidence intervals', () => {
  const outcomes = Array.from({ length: 200 }, (_, i) => (i % 10 < 7 ? 1 : 0));

  it('brackets the estimate and is reproducible from the seed', () => {
    const a = bootstrapConfidenceInterval(outcomes, mean, { samples: 500, seed: 7 });
    const b = bootstrapConfidenceInterval(outcomes, mean, { samples: 500, seed: 7 });
    const c = bootstrapConfidenceInterval(outcomes, mean, { samples: 500, seed: 8 });
    assert.deepEqual(a, b);
    assert.notDeepEqual([a.lower, a.upper], [c.lower, c.upper]);
    assert.equal(a.estimate, 0.7);
    assert.ok(a.lower < 0.7 && a.upper > 0.7);
    // The normal approximation's 95% half-width is 1.96·sqrt(0.21/200) ≈ 0.064; the percentile interval is close to it.
    const halfWidth = (a.upper - a.lower) / 2;
    assert.ok(Math.abs(halfWidth - 0.0635) < 0.015, `half width ${halfWidth}`);
  });

  it('a constant sample has a zero-width interval', () => {
    const ci = bootstrapConfidenceInterval([1, 1, 1, 1], mean, { samples: 50 });
    assert.deepEqual([ci.lower, ci.estimate, ci.upper], [1, 1, 1]);
  });

  it('resamples items whole, so paired metrics stay paired', () => {
    const pairs = outcomes.map((o, i) => ({ gold: i % 2, pred: o === 1 ? i % 2 : 1 - (i % 2) }));
    const ci = bootstrapConfidenceInterval(pairs, (s) => accuracy(s.map((p) => p.gold), s.map((p) => p.pred)), { samples: 200, seed: 3 });
    assert.equal(ci.estimate, 0.7);
    assert.ok(ci.lower <= 0.7 && 0.7 <= ci.upper);
  });

  it('quantile interpolates linearly between order statistics (numpy default)', () => {
    assert.equal(quantile([1, 2, 3, 4], 0.5), 2.5);
    assert.equal(quantile([1, 2, 3, 4], 0), 1);
    assert.equal(quantile([1, 2, 3, 4], 1), 4);
    assert.ok(Math.abs(quantile([0, 10], 0.025) - 0.25) < 1e-12);
  });
});

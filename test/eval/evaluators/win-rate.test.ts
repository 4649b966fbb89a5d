import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PairwiseWinner } from '../../../src/eval/evaluators/pairwise.js';
import { bootstrapMeanInterval, normalQuantile, summarizeWinRate, wilsonInterval } from '../../../src/eval/evaluators/win-rate.js';
import { references } from '../../helpers/evaluator-references.js';

test('normal quantiles match scipy.stats.norm.ppf', () => {
  for (const { p, z } of references.normal_quantile) assert.ok(Math.abs(normalQuantile(p) - z) < 1e-8 * Math.max(1, Math.abs(z)), `p=${p}: ${normalQuantile(p)} vs ${z}`);
});

test('Wilson intervals match scipy binomtest(...).proportion_ci(method="wilson")', () => {
  for (const { successes, trials, confidence, low, high } of references.wilson) {
    const interval = wilsonInterval(successes, trials, confidence);
    assert.ok(Math.abs(interval.low - low) < 1e-8, `${successes}/${trials} low ${interval.low} vs ${low}`);
    assert.ok(Math.abs(interval.high - high) < 1e-8, `${successes}/${trials} high ${interval.high} vs ${high}`);
  }
});

test('the seeded bootstrap interval agrees with scipy.stats.bootstrap (percentile) within resampling noise', () => {
  for (const { scores, confidence, low, high } of references.bootstrap) {
    const interval = bootstrapMeanInterval(scores, confidence, 100_000, 7);
    // The two random streams differ; at 100k resamples the percentiles agree to one grid step of the mean.
    const step = 0.5 / scores.length;
    assert.ok(Math.abs(interval.low - low) <= step + 1e-9, `low ${interval.low} vs scipy ${low}`);
    assert.ok(Math.abs(interval.high - high) <= step + 1e-9, `high ${interval.high} vs scipy ${high}`);
  }
});

test('the same seed gives the same interval; another seed may differ', () => {
  const scores = references.bootstrap[0].scores;
  assert.deepEqual(bootstrapMeanInterval(scores, 0.95, 2000, 3), bootstrapMeanInterval(scores, 0.95, 2000, 3));
});

test('summarizeWinRate counts ties as half a win and gives both intervals', () => {
  const winners: PairwiseWinner[] = ['candidate', 'candidate', 'candidate', 'tie', 'baseline', 'candidate', 'tie', 'baseline', 'candidate', 'candidate'];
  const s = summarizeWinRate(winners, { seed: 1 });
  assert.deepEqual([s.comparisons, s.wins, s.ties, s.losses], [10, 6, 2, 2]);
  assert.equal(s.winRate, 0.7);
  assert.ok(s.winRateInterval.low < 0.7 && 0.7 < s.winRateInterval.high);
  assert.equal(s.decisiveWinRate, 0.75);
  assert.deepEqual(s.decisiveWinRateInterval, wilsonInterval(6, 8, 0.95));
  assert.throws(() => summarizeWinRate([]), /at least one comparison/);
});

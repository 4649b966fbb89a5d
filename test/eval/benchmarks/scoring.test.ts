import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadBenchmarkSuite } from '../../../src/eval/benchmarks/definition.js';
import { aggregate, argmax, taskMetrics } from '../../../src/eval/benchmarks/scoring.js';
import { repoRoot } from '../../helpers/paths.js';

const superglue = loadBenchmarkSuite(join(repoRoot, 'benchmarks', 'superglue.yaml'));
const multirc = superglue.tasks.find((t) => t.name === 'multirc')!;
const cb = superglue.tasks.find((t) => t.name === 'cb')!;

describe('multiple-choice scoring', () => {
  it('argmax takes the first of equal maxima, as numpy', () => {
    assert.equal(argmax([-1, -0.5, -0.5]), 1);
  });

  it('acc_norm divides by choice length in characters', () => {
    const task = { ...cb, metrics: ['acc', 'acc_norm'] };
    // "True" (4) and "Neither" (7): -4 vs -6.3 -> acc picks True, acc_norm picks Neither (-0.9 > -1).
    const m = taskMetrics(task, [{ gold: 2, logLikelihoods: [-4, -9, -6.3], choices: ['True', 'False', 'Neither'], groupKey: null }]);
    assert.deepEqual(m, { acc: 0, acc_norm: 1 });
  });

  it('MultiRC: exact match needs every answer of a question right; F1a counts "correct" answers', () => {
    const yes = [-1, -2];
    const no = [-2, -1];
    const item = (gold: number, lls: number[], key: string) => ({ gold, logLikelihoods: lls, choices: ['a\nIs the answer correct? yes', 'a\nIs the answer correct? no'], groupKey: key });
    const outcomes = [item(0, yes, 'q1'), item(1, no, 'q1'), item(0, no, 'q2'), item(1, no, 'q2')];
    const m = taskMetrics(multirc, outcomes);
    assert.equal(m.acc, 0.75);
    assert.equal(m.exact_match_grouped, 0.5);
    // positives (choice 0): gold {0, 2}, predicted {0} -> tp 1, fn 1 -> F1 2/3
    assert.equal(m.f1a, 2 / 3);
  });

  it('groups average by items (micro) and by tasks (macro)', () => {
    const g = aggregate([
      { items: 10, metrics: { acc: 0.5, f1_macro: 0.4 } },
      { items: 30, metrics: { acc: 1 } },
    ]);
    assert.deepEqual(g, { tasks: 2, items: 40, micro: { acc: 0.875 }, macro: { acc: 0.75 } });
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type InstanceScores, worstCase } from '../../../src/eval/helm/worst-case.js';

const perturbations = [
  { name: 'typos:0.1', aspect: 'robustness' as const },
  { name: 'lowercase', aspect: 'robustness' as const },
  { name: 'dialect:1', aspect: 'fairness' as const },
];

describe('HELM worst-case arithmetic', () => {
  // Four instances. Instance 3 is unchanged by every perturbation (HELM skips unchanged ones).
  const instances: InstanceScores[] = [
    { original: 1, perturbed: { 'typos:0.1': 0, lowercase: 1, 'dialect:1': 1 } },
    { original: 1, perturbed: { 'typos:0.1': 1, 'dialect:1': 0 } },
    { original: 0, perturbed: { 'typos:0.1': 1, lowercase: 1 } },
    { original: 1, perturbed: {} },
  ];
  const summary = worstCase(instances, perturbations);

  it('robustness and fairness: per instance the minimum over the original and its perturbations of that aspect, averaged over all instances', () => {
    // robustness: min(1,0,1)=0, min(1,1)=1, min(0,1,1)=0, 1 -> 2/4
    assert.equal(summary.robustness, 0.5);
    // fairness: min(1,1)=1, min(1,0)=0, 0, 1 -> 2/4
    assert.equal(summary.fairness, 0.5);
    assert.equal(summary.original, 0.75);
    assert.equal(summary.instances, 4);
  });

  it('per perturbation: perturbed, original and worst over the instances it changed; all over every instance', () => {
    const typos = summary.perturbations.find((p) => p.name === 'typos:0.1')!;
    assert.deepEqual({ ...typos }, { name: 'typos:0.1', aspect: 'robustness', changed: 3, perturbed: 2 / 3, original: 2 / 3, worst: 1 / 3, all: 3 / 4 });
    const lowercase = summary.perturbations.find((p) => p.name === 'lowercase')!;
    assert.deepEqual({ ...lowercase }, { name: 'lowercase', aspect: 'robustness', changed: 2, perturbed: 1, original: 0.5, worst: 0.5, all: 1 });
    const dialect = summary.perturbations.find((p) => p.name === 'dialect:1')!;
    assert.deepEqual({ ...dialect }, { name: 'dialect:1', aspect: 'fairness', changed: 2, perturbed: 0.5, original: 1, worst: 0.5, all: 0.5 });
  });

  it('a perturbation that changed nothing has no per-perturbation means, and the worst case is the original', () => {
    const none = worstCase([{ original: 1, perturbed: {} }, { original: 0, perturbed: {} }], perturbations);
    assert.equal(none.robustness, 0.5);
    assert.equal(none.perturbations[0].perturbed, null);
    assert.equal(none.perturbations[0].all, 0.5);
  });

  it('an aspect with no perturbation reports null', () => {
    assert.equal(worstCase(instances, perturbations.slice(0, 2)).fairness, null);
    assert.throws(() => worstCase([], perturbations), RangeError);
  });
});

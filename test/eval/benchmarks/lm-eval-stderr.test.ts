import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { bootstrapStderr, meanStderr, pooledSampleStderr, taskStderrs } from '../../../src/eval/benchmarks/lm-eval-stderr.js';
import { PythonRandom } from '../../../src/eval/helm/python-random.js';
import { binaryF1, matthewsCorrelation } from '../../../src/eval/metrics/classification.js';
import { repoRoot } from '../../helpers/paths.js';

/** Outputs of lm-eval's own stderr functions (scripts/reference/lm_eval_stderr_reference.py). */
type Case =
  | { kind: 'mean'; values: number[]; stderr: number }
  | { kind: 'bootstrap'; metric: 'mcc' | 'f1'; golds: number[]; preds: number[]; iters: number; stderr: number }
  | { kind: 'bootstrap'; metric: 'mean'; values: number[]; iters: number; stderr: number }
  | { kind: 'acc_all'; questions: number[]; labels: number[]; preds: boolean[]; stderr: number }
  | { kind: 'pooled'; stderrs: number[]; sizes: number[]; stderr: number };
const reference = JSON.parse(readFileSync(join(repoRoot, 'test', 'fixtures', 'eval', 'lm-eval-stderr.json'), 'utf8')) as {
  cases: Case[];
  integer_seeds: { seed: number; random: number[] }[];
};

function close(actual: number, expected: number) {
  assert.ok(Math.abs(actual - expected) <= 1e-12 * Math.max(1, Math.abs(expected)), `${actual} != ${expected}`);
}

const mean = (values: readonly number[]) => values.reduce((s, v) => s + v, 0) / values.length;

describe("lm-eval's standard errors equal lm_eval/api/metrics.py's", () => {
  for (const [i, c] of reference.cases.entries()) {
    it(`${c.kind}${'metric' in c ? ` ${c.metric}` : ''}${'iters' in c ? ` (${c.iters} resamples)` : ''} #${i}`, () => {
      switch (c.kind) {
        case 'mean':
          close(meanStderr(c.values), c.stderr);
          break;
        case 'bootstrap': {
          if (c.metric === 'mean') {
            close(bootstrapStderr((idx) => mean(idx.map((j) => c.values[j])), c.values.length, c.iters), c.stderr);
            break;
          }
          const statistic = c.metric === 'mcc' ? matthewsCorrelation : (g: number[], p: number[]) => binaryF1(g, p, 1);
          const metric = (idx: readonly number[]) => statistic(idx.map((j) => c.golds[j]), idx.map((j) => c.preds[j]));
          close(bootstrapStderr(metric, c.golds.length, c.iters), c.stderr);
          break;
        }
        case 'acc_all': {
          // The all-answers-right metric of tuneloop (exact_match_grouped) over a set of answers: the
          // fraction of their questions with every answer right.
          const right = c.preds.map((p, j) => p === (c.labels[j] === 1));
          const metric = (idx: readonly number[]) => {
            const all = new Map<number, boolean>();
            for (const j of idx) all.set(c.questions[j], (all.get(c.questions[j]) ?? true) && right[j]);
            return [...all.values()].filter(Boolean).length / all.size;
          };
          const stderr = taskStderrs({ exact_match_grouped: metric }, c.questions.length, c.questions.map(String), 100000);
          close(stderr.exact_match_grouped as number, c.stderr);
          break;
        }
        case 'pooled':
          close(pooledSampleStderr(c.stderrs, c.sizes), c.stderr);
          break;
      }
    });
  }

  it('random.Random(int) draws as CPython does (the bootstrap seeds chunk i with Random(i))', () => {
    for (const { seed, random } of reference.integer_seeds) {
      const rng = new PythonRandom(seed);
      assert.deepEqual(Array.from({ length: random.length }, () => rng.random()), random, `seed ${seed}`);
    }
  });
});

describe('taskStderrs', () => {
  const golds = [1, 0, 1, 1, 0, 1, 0, 0];
  const preds = [1, 0, 0, 1, 1, 1, 0, 1];
  const acc = (idx: readonly number[]) => mean(idx.map((j) => Number(golds[j] === preds[j])));
  const mcc = (idx: readonly number[]) => matthewsCorrelation(idx.map((j) => golds[j]), idx.map((j) => preds[j]));

  it('takes each metric the way lm-eval does: mean, bootstrap, corpus bootstrap capped at 100, or N/A', () => {
    const stderr = taskStderrs({ acc, mcc, bleu: acc, f1_macro: acc, ece: acc }, golds.length, null, 2000);
    close(stderr.acc as number, meanStderr(golds.map((g, j) => Number(g === preds[j]))));
    close(stderr.mcc as number, bootstrapStderr(mcc, golds.length, 2000));
    close(stderr.bleu as number, bootstrapStderr(acc, golds.length, 100));
    assert.equal(stderr.f1_macro, 'N/A', "CB's cb_multi_fi aggregation is not in lm-eval's bootstrappable list");
    assert.equal(stderr.ece, 'N/A');
  });

  it('a single item, or no resamples, has no stderr', () => {
    assert.deepEqual(taskStderrs({ acc }, 1, null, 100000), { acc: 'N/A' });
    assert.deepEqual(taskStderrs({ acc, mcc }, golds.length, null, 0), { acc: 'N/A', mcc: 'N/A' });
  });
});

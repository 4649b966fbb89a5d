import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../../../src/errors.js';
import { normalizeSquadAnswer, squadExactMatch, squadTokenF1 } from '../../../src/eval/metrics/squad.js';
import { metricsReference } from './reference-fixture.js';

describe('SQuAD answer metrics by hand', () => {
  it('normalises case, punctuation, articles and whitespace', () => {
    assert.equal(normalizeSquadAnswer('  The  Eiffel-Tower!  '), 'eiffeltower');
    assert.equal(normalizeSquadAnswer('An apple, a pear'), 'apple pear');
  });

  it('exact match and F1 take the best reference', () => {
    assert.equal(squadExactMatch('Eiffel Tower', ['tower', 'the eiffel tower']), 1);
    // "big red dog" vs "red dog": precision 2/3, recall 1 -> F1 0.8
    assert.ok(Math.abs(squadTokenF1('big red dog', ['cat', 'red dog']) - 0.8) < 1e-12);
  });

  it('needs at least one reference', () => {
    assert.throws(() => squadTokenF1('x', []), InvalidInputError);
    assert.throws(() => squadExactMatch('x', []), InvalidInputError);
  });
});

describe('SQuAD answer metrics equal the official v1.1 script', () => {
  for (const c of metricsReference.squad) {
    it(JSON.stringify(c.prediction), () => {
      assert.equal(normalizeSquadAnswer(c.prediction), c.normalized_prediction);
      assert.equal(squadExactMatch(c.prediction, c.references), c.exact_match);
      assert.ok(Math.abs(squadTokenF1(c.prediction, c.references) - c.f1) < 1e-12);
    });
  }
});

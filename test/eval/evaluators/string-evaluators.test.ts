import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidInputError } from '../../../src/errors.js';
import type { AssertionSpec } from '../../../src/eval/evaluators/assertion.js';
import { checkAssertion, evaluateAssertion } from '../../../src/eval/evaluators/assertions.js';
import { levenshteinDistance } from '../../../src/eval/evaluators/levenshtein.js';
import { MetricRegistry } from '../../../src/eval/evaluators/metric-registry.js';
import { references } from '../../helpers/evaluator-references.js';

const metrics = new MetricRegistry();

async function grade(type: string, value: unknown, output: string, extra: Partial<AssertionSpec> = {}) {
  const spec: AssertionSpec = { type, value, weight: 1, field: 'case', ...extra };
  checkAssertion(spec, metrics);
  return evaluateAssertion(spec, { output, prompt: null, vars: {}, metrics });
}

test('equals is exact: case and whitespace count', async () => {
  assert.equal((await grade('equals', 'Rome', 'Rome')).status, 'pass');
  assert.equal((await grade('equals', 'Rome', 'Rome ')).status, 'fail');
  assert.equal((await grade('equals', 'Rome', 'rome')).status, 'fail');
  assert.equal((await grade('not-equals', 'Rome', 'Paris')).status, 'pass');
});

test('contains, icontains, contains-any and contains-all', async () => {
  assert.equal((await grade('contains', 'Rome', 'It is Rome.')).status, 'pass');
  assert.equal((await grade('contains', 'rome', 'It is Rome.')).status, 'fail');
  assert.equal((await grade('icontains', 'rome', 'It is ROME.')).status, 'pass');
  assert.equal((await grade('not-icontains', 'paris', 'It is Rome.')).status, 'pass');
  assert.equal((await grade('not-contains', 'Rome', 'It is Rome.')).status, 'fail');
  assert.equal((await grade('contains-any', ['Paris', 'Rome'], 'Rome')).status, 'pass');
  assert.equal((await grade('contains-any', ['Paris', 'Lyon'], 'Rome')).status, 'fail');
  const partial = await grade('contains-all', ['1969', 'Moon', 'Apollo'], 'Apollo 11 landed in 1969.');
  assert.equal(partial.status, 'fail');
  assert.equal(partial.score, 2 / 3);
  assert.match(partial.reason, /lacks "Moon"/);
  assert.equal((await grade('contains-all', ['1969', 'Apollo'], 'Apollo 11 landed in 1969.')).status, 'pass');
});

test('regex searches the output; an invalid pattern is refused at load time', async () => {
  assert.equal((await grade('regex', '^\\s*\\d{4}\\b', ' 1969 it was')).status, 'pass');
  assert.equal((await grade('regex', '^\\d{4}$', 'in 1969')).status, 'fail');
  assert.throws(() => checkAssertion({ type: 'regex', value: '(unclosed', weight: 1, field: 'tests[0].assert[0]' }, metrics), (e: unknown) => InvalidInputError.isInstance(e) && /tests\[0\]\.assert\[0\]\.value: is not a valid regular expression/.test(e.message));
});

test('levenshtein distance equals python-Levenshtein on every reference pair', () => {
  for (const { a, b, distance } of references.levenshtein) {
    assert.equal(levenshteinDistance(a, b), distance, `${a} / ${b}`);
    assert.equal(levenshteinDistance(b, a), distance, `${b} / ${a}`);
  }
});

test('levenshtein passes within the edit threshold (default 5) and scores similarity', async () => {
  const close = await grade('levenshtein', 'the capital is rome', 'The capital is Rome.', { threshold: 3 });
  assert.equal(close.status, 'pass');
  assert.equal(close.score, 1 - 3 / 20);
  assert.equal((await grade('levenshtein', 'the capital is rome', 'The capital is Rome.', { threshold: 2 })).status, 'fail');
  assert.equal((await grade('levenshtein', 'execution', 'intention')).status, 'pass', '5 edits is within the default 5');
  assert.throws(() => checkAssertion({ type: 'levenshtein', value: 'x', threshold: 1.5, weight: 1, field: 'f' }, metrics), /f\.threshold: levenshtein needs a whole number/);
});

test('is-json checks the output parses, and against a schema when one is given', async () => {
  assert.equal((await grade('is-json', undefined, '{"answer": 4}')).status, 'pass');
  const broken = await grade('is-json', undefined, '{"answer": 4');
  assert.equal(broken.status, 'fail');
  assert.match(broken.reason, /not JSON/);
  const schema = { type: 'object', properties: { answer: { type: 'integer' } }, required: ['answer'] };
  assert.equal((await grade('is-json', schema, '{"answer": 4}')).status, 'pass');
  const wrong = await grade('is-json', schema, '{"answer": "four"}');
  assert.equal(wrong.status, 'fail');
  assert.match(wrong.reason, /\$\.answer must be integer, got string/);
});

test('string checks refuse values of the wrong shape and thresholds they do not use', () => {
  const check = (spec: Partial<AssertionSpec>) => () => checkAssertion({ type: 'contains', weight: 1, field: 'tests[1].assert[2]', ...spec }, metrics);
  assert.throws(check({ value: 5 }), /tests\[1\]\.assert\[2\]\.value: contains needs a string value/);
  assert.throws(check({ type: 'contains-any', value: [] }), /needs a non-empty list of strings/);
  assert.throws(check({ value: 'x', threshold: 0.5 }), /contains passes or fails outright and takes no threshold/);
  assert.throws(check({ type: 'containz', value: 'x' }), /"containz" is not an assertion type; known: equals, contains/);
  assert.throws(check({ type: 'not-llm-rubric', value: 'x' }), /only .* can be negated/);
});

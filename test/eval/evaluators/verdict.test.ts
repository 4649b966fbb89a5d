import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseGradeVerdict, parsePairwiseVerdict } from '../../../src/eval/evaluators/verdict.js';

test('grade verdicts: JSON anywhere in the answer, in code fences or after prose', () => {
  const cases: [string, { pass?: boolean; score?: number }][] = [
    ['{"reason": "names Rome", "pass": true, "score": 0.9}', { pass: true, score: 0.9 }],
    ['Sure.\n```json\n{"reason": "wrong city {Paris}", "pass": false, "score": 0.1}\n```', { pass: false, score: 0.1 }],
    ['{"pass": "yes"}', { pass: true }],
    ['{"score": "0.25", "reason": "partly"}', { score: 0.25 }],
    ['{"note": 1} then {"verdict": "FAIL"}', { pass: false }],
  ];
  for (const [answer, expected] of cases) {
    const parsed = parseGradeVerdict(answer);
    assert.ok(parsed.ok, answer);
    assert.equal(parsed.value.pass, expected.pass, answer);
    assert.equal(parsed.value.score, expected.score, answer);
  }
  const withReason = parseGradeVerdict('{"reason": "brace } inside", "pass": true}');
  assert.ok(withReason.ok && withReason.value.reason === 'brace } inside');
});

test('grade verdicts in words: Verdict lines, PASS/FAIL, scores out of a scale', () => {
  const cases: [string, { pass?: boolean; score?: number }][] = [
    ['The answer is right.\nVerdict: PASS', { pass: true }],
    ['Result: fail', { pass: false }],
    ['FAIL', { pass: false }],
    ['Score: 8/10', { score: 0.8 }],
    ['score = 3 out of 4. Verdict: pass', { pass: true, score: 0.75 }],
    ['Score: 0.4', { score: 0.4 }],
  ];
  for (const [answer, expected] of cases) {
    const parsed = parseGradeVerdict(answer);
    assert.ok(parsed.ok, answer);
    assert.equal(parsed.value.pass, expected.pass, answer);
    assert.equal(parsed.value.score, expected.score, answer);
  }
});

test('grade answers without a usable verdict are refused, not guessed', () => {
  const cases: [string, RegExp][] = [
    ['I think it is fine.', /holds no verdict/],
    ['PASS for style, FAIL for facts', /both PASS and FAIL/],
    ['{"pass": true, "score": 7}', /score 7 is not a number in \[0, 1\]/],
    ['Score: 7', /not in \[0, 1\] and names no scale/],
    ['{"pass": "maybe"}', /neither a true\/false "pass" nor a numeric "score"/],
  ];
  for (const [answer, problem] of cases) {
    const parsed = parseGradeVerdict(answer);
    assert.equal(parsed.ok, false, answer);
    assert.match((parsed as { problem: string }).problem, problem, answer);
  }
});

test('pairwise verdicts: [[A]]/[[B]]/[[C]], JSON, labelled lines, bare letters', () => {
  const cases: [string, 'A' | 'B' | 'tie'][] = [
    ['A is more complete.\n[[A]]', 'A'],
    ['[[B]]', 'B'],
    ['Both are equally good. [[C]]', 'tie'],
    ['[[tie]]', 'tie'],
    ['{"winner": "B", "reason": "clearer"}', 'B'],
    ['Winner: A', 'A'],
    ['The better response is B.', 'B'],
    ['B', 'B'],
    ['"A".', 'A'],
    ['tie', 'tie'],
  ];
  for (const [answer, expected] of cases) {
    const parsed = parsePairwiseVerdict(answer);
    assert.ok(parsed.ok, answer);
    assert.equal(parsed.value, expected, answer);
  }
});

test('pairwise answers that name no winner, or two, are refused', () => {
  for (const answer of ['Both have merits.', 'At first [[A]], on reflection [[B]]', 'I would answer a question like this carefully', '{"winner": "neither"}']) {
    assert.equal(parsePairwiseVerdict(answer).ok, false, answer);
  }
});

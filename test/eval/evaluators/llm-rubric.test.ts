import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gradeWithRubric, rubricPrompt } from '../../../src/eval/evaluators/llm-rubric.js';
import { ScriptedJudge } from '../../helpers/scripted-judge.js';

test('the rubric prompt shows the input, the fenced response and the rubric, and asks for JSON', () => {
  const prompt = rubricPrompt('Rome', 'Names the capital of Italy', 'What is the capital of Italy?');
  assert.match(prompt, /\[Input\]\nWhat is the capital of Italy\?\n/);
  assert.match(prompt, /\[Response\]\n<<<\nRome\n>>>/);
  assert.match(prompt, /\[Rubric\]\nNames the capital of Italy/);
  assert.match(prompt, /"pass": true or false, "score"/);
  assert.doesNotMatch(rubricPrompt('Rome', 'r', null), /\[Input\]/);
});

test('the judge decides pass/fail; a threshold switches to the score', async () => {
  const judge = new ScriptedJudge((prompt) => (prompt.includes('Rome') ? '{"reason": "correct", "pass": true, "score": 0.6}' : '{"reason": "wrong", "pass": false, "score": 0.2}'));
  const pass = await gradeWithRubric(judge, 'Rome', 'Names the capital of Italy', { completion: { maxTokens: 64 } });
  assert.deepEqual(pass, { status: 'pass', score: 0.6, reason: 'correct' });
  assert.deepEqual(judge.options[0], { maxTokens: 64 });
  assert.equal((await gradeWithRubric(judge, 'Rome', 'rubric', { threshold: 0.7 })).status, 'fail', '0.6 < 0.7 although the judge said pass');
  assert.equal((await gradeWithRubric(judge, 'Paris', 'rubric')).status, 'fail');
  assert.equal((await gradeWithRubric(judge, 'Paris', 'rubric', { threshold: 0.2 })).status, 'pass');
});

test('an answer with no verdict is an error outcome that quotes it', async () => {
  const judge = new ScriptedJudge(() => 'It depends on the context.');
  const outcome = await gradeWithRubric(judge, 'Rome', 'rubric');
  assert.equal(outcome.status, 'error');
  assert.equal(outcome.score, 0);
  assert.match(outcome.reason, /no usable verdict .*"It depends on the context\."/);
});

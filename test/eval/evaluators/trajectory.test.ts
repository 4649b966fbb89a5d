import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalJson } from '../../../src/eval/evaluators/canonical-json.js';
import { judgeTrajectory, matchTrajectory, parseTrajectory, trajectoryFromOutput, type TrajectoryStep } from '../../../src/eval/evaluators/trajectory.js';
import { ScriptedJudge } from '../../helpers/scripted-judge.js';

const search = (q: string, result?: unknown): TrajectoryStep => (result === undefined ? { name: 'search', arguments: { q } } : { name: 'search', arguments: { q }, result });
const calc = (a: number, b: number): TrajectoryStep => ({ name: 'calculator', arguments: { op: 'add', operands: [a, b] } });

test('canonical JSON sorts keys at every depth and keeps array order', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: null }], c: 'x' } }), '{"a":{"c":"x","d":[2,{"y":null,"z":1}]},"b":1}');
  assert.notEqual(canonicalJson([1, 2]), canonicalJson([2, 1]));
  assert.throws(() => canonicalJson(NaN), /no JSON form/);
});

test('arguments are compared as canonical JSON: key order and string-encoded arguments do not matter', () => {
  const reference = parseTrajectory([{ name: 'calculator', arguments: { op: 'add', operands: [2, 3] } }], 'ref');
  const actual = parseTrajectory([{ type: 'function', function: { name: 'calculator', arguments: '{"operands": [2, 3], "op": "add"}' } }], 'actual');
  assert.equal(matchTrajectory('exact', reference, actual).status, 'pass');
  assert.equal(matchTrajectory('exact', reference, [calc(3, 2)]).status, 'fail', 'operand order is meaningful');
});

test('exact: same calls, same order, nothing more', () => {
  const reference = [search('capital of Italy'), calc(2, 3)];
  assert.equal(matchTrajectory('exact', reference, [search('capital of Italy'), calc(2, 3)]).status, 'pass');
  const swapped = matchTrajectory('exact', reference, [calc(2, 3), search('capital of Italy')]);
  assert.equal(swapped.status, 'fail');
  assert.match(swapped.reason, /call 1 differs: expected search\(\{"q":"capital of Italy"\}\), got calculator/);
  const extra = matchTrajectory('exact', reference, [...reference, search('more')]);
  assert.equal(extra.status, 'fail');
  assert.match(extra.reason, /call 3 differs: expected no call/);
});

test('in-order: the reference is a subsequence; the score is the matched share', () => {
  const reference = [search('a'), calc(1, 2), search('b')];
  assert.equal(matchTrajectory('in-order', reference, [search('a'), search('x'), calc(1, 2), search('b')]).status, 'pass');
  const outOfOrder = matchTrajectory('in-order', reference, [calc(1, 2), search('a'), search('b')]);
  assert.equal(outOfOrder.status, 'fail');
  assert.equal(outOfOrder.score, 2 / 3);
  assert.equal(matchTrajectory('in-order', reference, []).score, 0);
});

test('any-order: equal as multisets; counts matter', () => {
  const reference = [search('a'), calc(1, 2), search('a')];
  assert.equal(matchTrajectory('any-order', reference, [search('a'), search('a'), calc(1, 2)]).status, 'pass');
  const missing = matchTrajectory('any-order', reference, [search('a'), calc(1, 2)]);
  assert.equal(missing.status, 'fail');
  assert.equal(missing.score, 2 / 3);
  assert.match(missing.reason, /missing search\(\{"q":"a"\}\)/);
  const extra = matchTrajectory('any-order', [calc(1, 2)], [calc(1, 2), search('z')]);
  assert.match(extra.reason, /unexpected search/);
});

test('a reference result must match; a reference without one accepts any result', () => {
  // The result-less reference step must not take the only actual step that the other reference step matches.
  const reference = [search('rome'), search('rome', ['Rome is the capital'])];
  const actual = [search('rome', ['Rome is the capital']), search('rome', ['other'])];
  assert.equal(matchTrajectory('any-order', reference, actual).status, 'pass');
  assert.equal(matchTrajectory('exact', [search('rome', ['x'])], [search('rome', ['y'])]).status, 'fail');
  assert.equal(matchTrajectory('exact', [search('rome', ['x'])], [search('rome')]).status, 'fail');
});

test('trajectories are read from the output text, or refused with the reason', () => {
  const fromList = trajectoryFromOutput('[{"name": "search", "arguments": {"q": "a"}}]');
  assert.ok(fromList.ok && fromList.steps[0].name === 'search');
  const fromObject = trajectoryFromOutput('{"tool_calls": [{"function": {"name": "calculator", "arguments": "{}"}}]}');
  assert.ok(fromObject.ok && fromObject.steps[0].name === 'calculator');
  assert.deepEqual(trajectoryFromOutput('I searched the web.'), { ok: false, problem: 'the output is not JSON, so it holds no trajectory' });
  const noName = trajectoryFromOutput('[{"arguments": {}}]');
  assert.ok(!noName.ok && /output\[0\]\.name: is required/.test(noName.problem));
  assert.throws(() => parseTrajectory([{ name: 'x', arguments: '{bad' }], 'tests[0].trajectory'), /tests\[0\]\.trajectory\[0\]\.arguments: is a string that is not JSON/);
});

test('judge-graded trajectories show both trajectories as canonical JSON and parse the verdict', async () => {
  const judge = new ScriptedJudge(() => '{"reason": "same tools", "pass": true, "score": 0.9}');
  const outcome = await judgeTrajectory(judge, [search('a')], [{ name: 'search', arguments: { q: 'a' }, result: 'r' }], { task: 'Find a' });
  assert.deepEqual(outcome, { status: 'pass', score: 0.9, reason: 'same tools' });
  assert.match(judge.prompts[0], /\[Task\]\nFind a/);
  assert.match(judge.prompts[0], /\[Reference trajectory\]\n1\. \{"arguments":\{"q":"a"\},"name":"search"\}/);
  assert.match(judge.prompts[0], /\[Agent trajectory\]\n1\. \{"arguments":\{"q":"a"\},"name":"search","result":"r"\}/);
});

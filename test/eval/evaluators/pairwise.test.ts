import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type PairwiseWinner, comparePairwise, pairwisePrompt } from '../../../src/eval/evaluators/pairwise.js';
import { summarizeWinRate } from '../../../src/eval/evaluators/win-rate.js';
import { ScriptedJudge, responseA } from '../../helpers/scripted-judge.js';

const pairs = [
  ['Rome is the capital of Italy.', 'Paris'],
  ['1969', 'It was in the sixties.'],
  ['an apple', 'a apple'],
];

test('each comparison asks the judge twice, with the candidate first and then the baseline first', async () => {
  const judge = new ScriptedJudge(() => '[[A]]');
  await comparePairwise(judge, 'CANDIDATE', 'BASELINE', { input: 'Q?', criteria: 'accuracy' });
  assert.equal(judge.prompts.length, 2);
  assert.equal(responseA(judge.prompts[0]), 'CANDIDATE');
  assert.equal(responseA(judge.prompts[1]), 'BASELINE');
  assert.equal(judge.prompts[0], pairwisePrompt('CANDIDATE', 'BASELINE', 'accuracy', 'Q?'));
});

test('a judge that always prefers the first position gets ties, never wins: position bias cancels', async () => {
  const judge = new ScriptedJudge(() => 'Response A is better. [[A]]');
  const winners: PairwiseWinner[] = [];
  for (const [candidate, baseline] of pairs) {
    const result = await comparePairwise(judge, candidate, baseline);
    assert.ok(result.ok);
    assert.deepEqual(result.outcome.byOrder, ['candidate', 'baseline']);
    assert.equal(result.outcome.consistent, false);
    assert.equal(result.outcome.winner, 'tie');
    winners.push(result.outcome.winner);
  }
  const summary = summarizeWinRate(winners);
  assert.deepEqual([summary.wins, summary.ties, summary.losses, summary.winRate], [0, 3, 0, 0.5]);
  assert.equal(summary.decisiveWinRate, null);
});

test('a judge that always prefers the second position is cancelled the same way', async () => {
  const result = await comparePairwise(new ScriptedJudge(() => '[[B]]'), 'x', 'y');
  assert.ok(result.ok && result.outcome.winner === 'tie');
});

test('a judge that follows content gives the same winner in both orders', async () => {
  // Prefers whichever response mentions a correct fact, wherever it is shown.
  const better = new Set(pairs.map(([candidate]) => candidate));
  const judge = new ScriptedJudge((prompt) => (better.has(responseA(prompt)) ? '[[A]]' : '[[B]]'));
  for (const [candidate, baseline] of pairs) {
    const asCandidate = await comparePairwise(judge, candidate, baseline);
    assert.ok(asCandidate.ok && asCandidate.outcome.winner === 'candidate' && asCandidate.outcome.consistent);
    const asBaseline = await comparePairwise(judge, baseline, candidate);
    assert.ok(asBaseline.ok && asBaseline.outcome.winner === 'baseline');
  }
});

test('one order says tie and the other names a winner: a tie', async () => {
  const judge = new ScriptedJudge((prompt) => (responseA(prompt) === 'cand' ? '[[A]]' : '[[C]]'));
  const result = await comparePairwise(judge, 'cand', 'base');
  assert.ok(result.ok);
  assert.deepEqual(result.outcome.byOrder, ['candidate', 'tie']);
  assert.equal(result.outcome.winner, 'tie');
});

test('an unreadable answer in either order fails the comparison with the order named', async () => {
  let calls = 0;
  const judge = new ScriptedJudge(() => (++calls === 2 ? 'no idea' : '[[A]]'));
  const result = await comparePairwise(judge, 'a', 'b');
  assert.equal(result.ok, false);
  assert.match((result as { problem: string }).problem, /with the baseline shown first: the answer names no winner/);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { InvalidInputError } from '../../../src/errors.js';
import type { CompletionOptions, TextCompleter } from '../../../src/eval/evaluators/judge.js';
import { MetricRegistry } from '../../../src/eval/evaluators/metric-registry.js';
import { formatSuiteTable, runSuite } from '../../../src/eval/evaluators/runner.js';
import { parseEvalSuite } from '../../../src/eval/evaluators/suite-config.js';
import { ScriptedJudge, responseA } from '../../helpers/scripted-judge.js';

/** A model under test that answers from a table, recording the options it was given. */
class TableModel implements TextCompleter {
  readonly name = 'table model';
  readonly calls: { prompt: string; options?: CompletionOptions }[] = [];
  constructor(private readonly answers: Record<string, string>) {}
  async complete(prompt: string, options?: CompletionOptions): Promise<string> {
    this.calls.push({ prompt, options });
    return this.answers[prompt] ?? '';
  }
}

// A test metric plugged in the way BLEU/ROUGE will be: a name and a (hypothesis, references) => number.
function unigramRecall(hypothesis: string, references: readonly string[]): number {
  const words = new Set(hypothesis.toLowerCase().split(/\W+/).filter(Boolean));
  return Math.max(...references.map((r) => {
    const ref = r.toLowerCase().split(/\W+/).filter(Boolean);
    return ref.filter((w) => words.has(w)).length / ref.length;
  }));
}

const SUITE = `
description: tutor
prompts: ["Q: {{question}}\\nA:", "{{question}} Answer:"]
generation: {max_new_tokens: 8, stop: ["\\n"]}
judge: {max_tokens: 32}
win_rate: {resamples: 1000, seed: 5}
tests:
  - description: capital
    vars: {question: What is the capital of Italy?}
    assert:
      - {type: icontains, value: rome}
      - {type: unigram-recall, value: "Rome is the capital", threshold: 0.5}
  - description: recorded, graded by rubric and pairwise
    output: Rome is the capital of Italy.
    input: "{{question}}"
    vars: {question: Which city is the capital of Italy?}
    assert:
      - {type: llm-rubric, value: Names Rome}
      - {type: pairwise, value: Paris}
  - description: weighted threshold
    output: Paris
    threshold: 0.6
    assert:
      - {type: contains, value: Paris, weight: 2}
      - {type: contains, value: France}
  - description: agent
    trajectory: [{name: search, arguments: {q: Italy}}, {name: answer, arguments: {text: Rome}}]
    assert:
      - {type: trajectory-in-order, value: [{name: answer, arguments: {text: Rome}}]}
      - {type: trajectory-exact, value: [{name: answer, arguments: {text: Rome}}], weight: 0}
`;

function judgeAnswer(prompt: string): string {
  if (prompt.includes('[Rubric]')) return prompt.includes('Rome') ? '{"reason": "names Rome", "pass": true, "score": 1}' : 'unsure';
  // Pairwise: prefers whichever response mentions Rome, in either position.
  return responseA(prompt).includes('Rome') ? '[[A]]' : '[[B]]';
}

test('runs every test, generating outputs per prompt, and aggregates', async () => {
  const metrics = new MetricRegistry({ 'unigram-recall': unigramRecall });
  const suite = parseEvalSuite(parseYaml(SUITE), 'suite.yaml', metrics);
  const model = new TableModel({ 'Q: What is the capital of Italy?\nA:': ' Rome is the capital', 'What is the capital of Italy? Answer:': ' Paris' });
  const judge = new ScriptedJudge(judgeAnswer);
  const result = await runSuite(suite, { model, judge, metrics });

  assert.deepEqual(model.calls.map((c) => c.options), [0, 1].map(() => ({ maxTokens: 8, temperature: 0, seed: 0, stop: ['\n'] })));
  assert.deepEqual(result.results.map((r) => [r.test, r.prompt, r.status]), [
    [1, 1, 'pass'],
    [1, 2, 'fail'],
    [2, null, 'pass'],
    [3, null, 'pass'],
    [4, null, 'pass'],
  ]);
  const [generated, wrong, judged, weighted, agent] = result.results;
  assert.equal(generated.output, ' Rome is the capital');
  assert.equal(generated.assertions[1].score, 1);
  assert.match(wrong.assertions[0].reason, /does not contain "rome"/);
  assert.equal(judged.assertions[1].comparison?.winner, 'candidate');
  assert.equal(judge.prompts.length, 3, 'one rubric prompt, two pairwise orders');
  assert.deepEqual(judge.options[0], { maxTokens: 32, temperature: 0 });
  assert.match(judge.prompts[0], /\[Input\]\nWhich city is the capital of Italy\?\n/, 'a recorded output is shown with its input');
  assert.equal(weighted.score, 2 / 3, 'weights 2 and 1, scores 1 and 0');
  assert.equal(agent.assertions[1].status, 'fail');
  assert.equal(agent.score, 1, 'a weight-0 assertion is reported but does not count');

  const a = result.aggregate;
  assert.deepEqual([a.tests, a.passed, a.failed, a.errors], [5, 4, 1, 0]);
  assert.equal(a.passRate, 0.8);
  assert.deepEqual(a.byType.icontains, { passed: 1, failed: 1, errors: 0 });
  assert.equal(a.pairwise?.wins, 1);
  assert.equal(a.pairwise?.winRate, 1);
  assert.equal(result.model, 'table model');
  assert.equal(result.judge, 'scripted judge');

  const table = formatSuiteTable(result);
  assert.match(table, /^#\s+test\s+prompt\s+result\s+score\s+output\s+first problem$/m);
  assert.match(table, /^1\s+capital\s+2\s+FAIL\s+0\.00\s+" Paris"\s+icontains: the output does not contain "rome"/m);
  assert.match(table, /5 tests: 4 passed, 1 failed, 0 could not be graded \(pass rate 80\.0%/);
  assert.match(table, /pairwise: win rate 1\.000 \[1\.000, 1\.000\] \(95% bootstrap, ties count 1\/2; 1 wins, 0 ties, 0 losses\)/);
});

test('a judge answer without a verdict makes the test an error, apart from failures', async () => {
  const metrics = new MetricRegistry();
  const suite = parseEvalSuite(parseYaml('tests: [{output: Paris, assert: [{type: llm-rubric, value: r}]}, {output: x, assert: [{type: equals, value: y}, {type: llm-rubric, value: r}]}]'), 's.yaml', metrics);
  const result = await runSuite(suite, { judge: new ScriptedJudge(() => 'hmm'), metrics });
  assert.deepEqual(result.results.map((r) => r.status), ['error', 'fail']);
  assert.deepEqual([result.aggregate.failed, result.aggregate.errors], [1, 1]);
});

test('a suite that needs a judge or a model refuses to run without one', async () => {
  const metrics = new MetricRegistry();
  const judged = parseEvalSuite(parseYaml('tests: [{output: a, assert: [{type: pairwise, value: b}]}]'), 's.yaml', metrics);
  await assert.rejects(runSuite(judged, { metrics }), (e: unknown) => InvalidInputError.isInstance(e) && /judge-graded assertions \(tests\[0\]\.assert\[0\]\) but no judge/.test(e.message));
  const generated = parseEvalSuite(parseYaml('prompts: [p]\ntests: [{assert: [{type: equals, value: b}]}]'), 's.yaml', metrics);
  await assert.rejects(runSuite(generated, { metrics }), /tests\[0\] has no recorded output, so a model must generate it/);
});

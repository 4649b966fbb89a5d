import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { defaultMetricRegistry } from '../../../src/eval/evaluators/metric-registry.js';
import type { SuiteResult } from '../../../src/eval/evaluators/runner.js';
import { readEvalSuite } from '../../../src/eval/evaluators/suite-config.js';
import { chatCompletion, startChatCompletionsServer } from '../../helpers/chat-completions-server.js';
import { repoRoot } from '../../helpers/paths.js';
import { responseA } from '../../helpers/scripted-judge.js';
import { writeTinyModelDir } from '../../helpers/tiny-model-dir.js';

const cli = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const scratch = mkdtempSync(join(tmpdir(), 'tuneloop-evaluate-'));
const modelDir = writeTinyModelDir(join(scratch, 'tiny'));
let server: Awaited<ReturnType<typeof startChatCompletionsServer>>;

// A judge server: rubric prompts pass when the response contains a digit; pairwise prompts prefer the
// longer response wherever it is shown, so both orders agree.
before(async () => {
  server = await startChatCompletionsServer((body, res) => {
    const prompt = body.messages[0].content;
    let answer: string;
    if (prompt.includes('[Rubric]') || prompt.includes('[Reference trajectory]')) {
      const response = prompt.split('<<<\n')[1]?.split('\n>>>')[0] ?? prompt;
      answer = /\d/.test(response) ? '{"reason": "has a number", "pass": true, "score": 0.9}' : '{"reason": "no number", "pass": false, "score": 0.2}';
    } else {
      const a = responseA(prompt);
      const b = prompt.split('[Response B]\n<<<\n')[1].split('\n>>>')[0];
      answer = a.length >= b.length ? 'A is fuller. [[A]]' : 'B is fuller. [[B]]';
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(chatCompletion(answer, body.model));
  });
});
after(async () => {
  await server.close();
  rmSync(scratch, { recursive: true, force: true });
});

/** Runs the CLI without blocking this process, which serves the judge endpoint. */
function run(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, TUNELOOP_BACKEND: 'typescript', OPENAI_API_KEY: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

function suiteFile(name: string, yaml: string): string {
  const path = join(scratch, name);
  writeFileSync(path, yaml);
  return path;
}

test('the shipped example suites load', () => {
  for (const name of ['tutor.yaml', 'tutor-judged.yaml']) {
    const suite = readEvalSuite(join(repoRoot, 'configs', 'evaluators', name), defaultMetricRegistry());
    assert.ok(suite.tests.length >= 5, name);
  }
});

test('recorded outputs graded without a model or judge, as JSON; a failed test exits with 100', async () => {
  const path = suiteFile('recorded.yaml', 'tests:\n  - {output: " Rome", assert: [{type: icontains, value: rome}]}\n  - {output: "Paris", assert: [{type: equals, value: Rome}]}\n');
  const { status, stdout, stderr } = await run(['evaluate', '--config', path, '--json']);
  assert.equal(status, 100, stderr);
  const result = JSON.parse(stdout) as SuiteResult;
  assert.deepEqual(result.results.map((r) => r.status), ['pass', 'fail']);
  assert.deepEqual([result.aggregate.passed, result.aggregate.failed], [1, 1]);
  assert.equal(result.model, null);
  assert.equal(result.judge, null);
  // Fields in snake_case; by_type's keys are the assertion types as written.
  const aggregate = result.aggregate as unknown as Record<string, unknown>;
  assert.equal(aggregate.pass_rate, 0.5);
  assert.deepEqual(Object.keys(aggregate.by_type as object).sort(), ['equals', 'icontains']);
  assert.ok(!/"[a-z]+[A-Z][A-Za-z]*":/.test(stdout), 'no camelCase field in the --json output');
});

test('eval runs a file with tests: as an assertion suite, exiting 0 when every test passes', async () => {
  const path = suiteFile('passing.yaml', 'tests:\n  - {output: "the cat sat on the mat", assert: [{type: icontains, value: CAT}, {type: rouge-l, value: "a cat sat on a mat", threshold: 0.6}]}\n');
  const { status, stdout, stderr } = await run(['eval', '--config', path, '--json']);
  assert.equal(status, 0, stderr);
  const result = JSON.parse(stdout) as SuiteResult;
  assert.deepEqual(result.results[0].assertions.map((a) => a.status), ['pass', 'pass']);
  const failing = suiteFile('failing.yaml', 'tests:\n  - {output: "a dog", assert: [{type: bleu, value: "the cat sat on the mat"}]}\n');
  const failed = await run(['eval', '--config', failing]);
  assert.equal(failed.status, 100, failed.stderr);
  assert.match(failed.stdout, /1 tests?: 0 passed/);
});

test('the shipped judged suite runs end to end against an OpenAI-compatible judge server', async () => {
  const { status, stdout, stderr } = await run(['evaluate', '--config', join(repoRoot, 'configs', 'evaluators', 'tutor-judged.yaml'), '--judge-endpoint', server.baseUrl, '--judge-model', 'test-judge']);
  assert.equal(status, /5 tests: 5 passed/.test(stdout) ? 0 : 100, stderr);
  assert.match(stdout, /5 tests: \d+ passed/);
  assert.match(stdout, /pairwise: win rate \d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\] \(95% bootstrap/);
  assert.match(stdout, new RegExp(`judge: ${server.baseUrl.replace(/[./]/g, '\\$&')}/chat/completions \\(test-judge\\)`));
  const sent = server.requests.map((r) => r.body as { model: string; max_tokens: number });
  assert.ok(sent.length >= 7, 'two rubric grades, two pairwise comparisons in two orders, one trajectory grade');
  assert.ok(sent.every((b) => b.model === 'test-judge' && b.max_tokens === 200));
});

test('a judge-graded suite with --json reports per-test verdicts and the win rate', async () => {
  const path = suiteFile('judged.yaml', `
tests:
  - output: "The answer is 42, because 40 + 2 = 42."
    assert: [{type: pairwise, value: "42"}, {type: llm-rubric, value: gives the number}]
  - output: "no idea"
    assert: [{type: pairwise, value: "It is 42, since 17 + 25 = 42."}, {type: llm-rubric, value: gives the number}]
`);
  const { status, stdout, stderr } = await run(['evaluate', '--config', path, '--judge-endpoint', server.baseUrl, '--judge-model', 'test-judge', '--json']);
  assert.equal(status, 100, stderr);
  const result = JSON.parse(stdout) as SuiteResult;
  assert.deepEqual(result.results.map((r) => r.assertions.map((a) => a.status)), [['pass', 'pass'], ['fail', 'fail']]);
  assert.deepEqual(result.results.map((r) => r.assertions[0].comparison?.winner), ['candidate', 'baseline']);
  const pairwise = result.aggregate.pairwise as unknown as Record<string, number>;
  assert.deepEqual([pairwise.wins, pairwise.ties, pairwise.losses, pairwise.win_rate], [1, 0, 1, 0.5]);
});

test('outputs generated by a local model, which also judges', async () => {
  const path = suiteFile('generated.yaml', `
prompts: ["{{question}} Answer:", "Q: {{question}}"]
generation: {max_new_tokens: 6}
judge: {max_tokens: 12}
tests:
  - vars: {question: What is the capital of Italy?}
    assert: [{type: icontains, value: rome}, {type: llm-rubric, value: Names Rome}]
`);
  const { status, stdout, stderr } = await run(['evaluate', '--config', path, '--model', modelDir, '--json']);
  const result = JSON.parse(stdout) as SuiteResult;
  assert.equal(status, result.aggregate.passed === result.aggregate.tests ? 0 : 100, stderr);
  assert.equal(result.model, modelDir);
  assert.equal(result.judge, modelDir);
  assert.deepEqual(result.results.map((r) => r.prompt), [1, 2]);
  for (const r of result.results) {
    assert.equal(typeof r.output, 'string');
    assert.ok(r.output.length > 0);
    // The tiny model's weights are random: its verdicts are arbitrary, but each is graded or explained.
    assert.ok(['pass', 'fail', 'error'].includes(r.assertions[1].status));
    assert.ok(r.assertions[1].reason.length > 0);
  }
  assert.match(stderr, /evaluating .*generated\.yaml: 2\/2/);
});

test('bad input gets a clear message and exit code 2', async () => {
  const judged = suiteFile('needs-judge.yaml', 'tests: [{output: a, assert: [{type: llm-rubric, value: r}]}]\n');
  const generated = suiteFile('needs-model.yaml', 'prompts: ["{{q}}"]\ntests: [{vars: {q: x}, assert: [{type: equals, value: a}]}]\n');
  const badField = suiteFile('bad-field.yaml', 'tests: [{output: a, assert: [{type: llm-rubric, value: r, threshold: -1}]}]\n');
  const cases: [string[], RegExp][] = [
    [['evaluate'], /--config: is required/],
    [['evaluate', '--config', judged], /--judge-endpoint: .*needs-judge\.yaml has judge-graded assertions \(tests\[0\]\.assert\[0\], \.\.\.\)/],
    [['evaluate', '--config', generated], /--model: .*has tests without a recorded output/],
    [['evaluate', '--config', badField], /bad-field\.yaml: tests\[0\]\.assert\[0\]\.threshold: must be a score in \[0, 1\], got -1/],
    [['evaluate', '--config', judged, '--judge-endpoint', server.baseUrl], /--judge-model: is required with --judge-endpoint/],
    [['evaluate', '--config', judged, '--judge-endpoint', 'http://127.0.0.1:9/v1', '--judge-model', 'm'], /judge endpoint http:\/\/127\.0\.0\.1:9\/v1\/chat\/completions: request failed/],
    [['evaluate', '--config', join(scratch, 'missing.yaml')], /--config: cannot read .*missing\.yaml/],
  ];
  for (const [args, pattern] of cases) {
    const { status, stderr } = await run(args);
    assert.equal(status, 2, `${args.join(' ')} → ${stderr}`);
    assert.match(stderr, pattern);
    assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
  }
});

test('eval --help (and its alias evaluate --help) teaches both kinds of file', async () => {
  const { status, stdout } = await run(['evaluate', '--help']);
  assert.equal(status, 0);
  assert.equal((await run(['eval', '--help'])).stdout, stdout);
  assert.match(stdout, /Usage:\n {2}tuneloop eval --config eval\.yaml .*\n {2}tuneloop eval --config suite\.yaml/);
  assert.match(stdout, /a file with tests: is an assertion suite/);
  assert.match(stdout, /100 when any test fails/);
  assert.match(stdout, /--judge-endpoint URL/);
  assert.match(stdout, /trajectory-in-order/);
});

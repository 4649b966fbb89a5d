import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TEXT_METRICS } from '../../../src/eval/benchmarks/definition.js';
import type { BenchmarkResults } from '../../../src/eval/benchmarks/runner.js';
import { makeDemoModel } from '../../../src/models/demo-model.js';
import { repoRoot } from '../../helpers/paths.js';

/**
 * `tuneloop bench` as a user runs it from a fresh clone: the README's command on the demo model, from a
 * folder outside the project, with no TUNELOOP_DATA_DIR, must find the MMLU files shipped in
 * data/benchmarks.
 */
const cli = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const shippedMmlu = join(repoRoot, 'data', 'benchmarks', 'mmlu');
let work: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'tuneloop-bench-cli-'));
  await makeDemoModel(join(work, 'models', 'demo'));
});
after(() => rmSync(work, { recursive: true, force: true }));

function tuneloop(args: string[], environment: Record<string, string> = {}) {
  const env: NodeJS.ProcessEnv = { ...process.env, TUNELOOP_BACKEND: 'typescript', ...environment };
  if (!('TUNELOOP_DATA_DIR' in environment)) delete env.TUNELOOP_DATA_DIR;
  const result = spawnSync(process.execPath, [cli, ...args], { cwd: work, encoding: 'utf8', env });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}
const bench = (args: string[], environment: Record<string, string> = {}) => tuneloop(['bench', ...args], environment);

describe('tuneloop bench on the shipped data', () => {
  it("the README's `bench mmlu --model models/demo --subjects anatomy --limit 5` runs and shows the shots", () => {
    const { status, stdout, stderr } = bench(['mmlu', '--model', 'models/demo', '--subjects', 'anatomy', '--limit', '5', '--no-cache']);
    assert.equal(status, 0, stderr);
    assert.match(stdout, /^task\s+n\s+shots\s+acc\s+acc_norm$/m);
    assert.match(stdout, /^mmlu_anatomy\s+5\s+0\s+\d\.\d{4} \[/m);
  });

  it('--json prints the results (snake_case keys) naming the shipped data folder', () => {
    const { status, stdout, stderr } = bench(['mmlu', '--model', 'models/demo', '--subjects', 'anatomy', '--limit', '5', '--shots', '2', '--no-cache', '--json']);
    assert.equal(status, 0, stderr);
    const results = JSON.parse(stdout) as BenchmarkResults;
    assert.equal(results.format_version, 2);
    assert.equal(results.suite.data_dir, shippedMmlu);
    assert.deepEqual(results.tasks.mmlu_anatomy.data.map((f) => f.path), [join(shippedMmlu, 'test', 'anatomy_test.csv'), join(shippedMmlu, 'dev', 'anatomy_dev.csv')]);
    assert.equal(results.tasks.mmlu_anatomy.fewshot.shots, 2);
    assert.equal(results.tasks.mmlu_anatomy.split_items, 135);
    assert.equal(results.runs[0].computed_requests, 20);
    const keys = (value: unknown): string[] =>
      typeof value !== 'object' || value === null ? [] : Array.isArray(value) ? value.flatMap(keys) : Object.entries(value).flatMap(([k, v]) => [k, ...keys(v)]);
    // Metric names are identifiers shared with rouge-score and lm-eval (rougeL, rougeLsum), not field names.
    const camel = keys({ ...results, tasks: Object.values(results.tasks) }).filter((k) => /[a-z][A-Z]/.test(k) && !(TEXT_METRICS as readonly string[]).includes(k));
    assert.deepEqual(camel, [], 'every field of the results JSON is snake_case');
  });
});

describe('where bench looks for data', () => {
  it('TUNELOOP_DATA_DIR is a root holding mmlu/; --data-dir wins over it', () => {
    const root = join(work, 'data-root');
    mkdirSync(join(root, 'mmlu', 'test'), { recursive: true });
    copyFileSync(join(shippedMmlu, 'test', 'anatomy_test.csv'), join(root, 'mmlu', 'test', 'anatomy_test.csv'));
    const fromRoot = bench(['mmlu', '--model', 'models/demo', '--subjects', 'anatomy', '--limit', '2', '--no-cache', '--json'], { TUNELOOP_DATA_DIR: root });
    assert.equal(fromRoot.status, 0, fromRoot.stderr);
    assert.equal((JSON.parse(fromRoot.stdout) as BenchmarkResults).suite.data_dir, join(root, 'mmlu'));
    const fromFlag = bench(['mmlu', '--model', 'models/demo', '--subjects', 'anatomy', '--limit', '2', '--no-cache', '--json', '--data-dir', shippedMmlu], { TUNELOOP_DATA_DIR: root });
    assert.equal(fromFlag.status, 0, fromFlag.stderr);
    assert.equal((JSON.parse(fromFlag.stdout) as BenchmarkResults).suite.data_dir, shippedMmlu);
  });

  it('missing files: one message with the folders tried, the files expected, the official format and source, before any model loads', () => {
    const empty = join(work, 'empty-root');
    mkdirSync(empty, { recursive: true });
    const { status, stdout, stderr } = bench(['mmlu', '--model', 'models/demo', '--subjects', 'anatomy', '--shots', '5'], { TUNELOOP_DATA_DIR: empty });
    assert.notEqual(status, 0);
    assert.equal(stdout, '');
    assert.match(stderr, /mmlu\/test\/anatomy_test\.csv: not found: the mmlu benchmark's data files are missing/);
    assert.match(stderr, /empty-root\/mmlu \(TUNELOOP_DATA_DIR=.*\): no such folder/);
    assert.match(stderr, /Expected files, relative to the data folder: test\/<subset>_test\.csv, dev\/<subset>_dev\.csv/);
    assert.match(stderr, /Format: hendrycks MMLU CSV, no header row, .*question,A,B,C,D,answer/);
    assert.match(stderr, /Official dataset: https:\/\/people\.eecs\.berkeley\.edu\/~hendrycks\/data\.tar/);
    assert.match(stderr, /Give --data-dir DIR with these files, or set TUNELOOP_DATA_DIR to a folder holding mmlu\//);
    // The model folder is checked to exist first (no loading); the data is checked before the model loads.
    assert.doesNotMatch(stderr, /loading|tokenizer:/, 'the data is checked before the model is loaded');
  });
});

describe('tuneloop bench --lm-eval-out', () => {
  it("writes lm-evaluation-harness 0.4's results layout with its stderrs and the MMLU groups", () => {
    const out = join(work, 'lm-eval', 'results.json');
    const { status, stderr } = bench(['mmlu', '--model', 'models/demo', '--subjects', 'anatomy,virology', '--limit', '6', '--no-cache', '--lm-eval-out', out]);
    assert.equal(status, 0, stderr);
    const lm = JSON.parse(readFileSync(out, 'utf8')) as Record<string, Record<string, Record<string, unknown>>>;
    for (const key of ['results', 'groups', 'group_subtasks', 'configs', 'versions', 'n-shot', 'higher_is_better', 'n-samples', 'config']) assert.ok(key in lm, key);
    const anatomy = lm.results.mmlu_anatomy as Record<string, number | string>;
    const virology = lm.results.mmlu_virology as Record<string, number | string>;
    // acc is a mean of 0/1 values: lm-eval's mean_stderr is sqrt(p (1 - p) / (n - 1)).
    const p = anatomy['acc,none'] as number;
    assert.ok(Math.abs((anatomy['acc_stderr,none'] as number) - Math.sqrt((p * (1 - p)) / 5)) < 1e-12);
    assert.equal(anatomy.alias, '  - anatomy');
    // The suite is a group of its tasks: item-weighted mean, pooled stderr.
    const mmlu = lm.results.mmlu as Record<string, number | string>;
    assert.ok(Math.abs((mmlu['acc,none'] as number) - ((anatomy['acc,none'] as number) + (virology['acc,none'] as number)) / 2) < 1e-12);
    const [a, v] = [anatomy['acc_stderr,none'] as number, virology['acc_stderr,none'] as number];
    assert.ok(Math.abs((mmlu['acc_stderr,none'] as number) - Math.sqrt((5 * a * a * 6 + 5 * v * v * 6) / 10 / 12)) < 1e-12);
    assert.deepEqual(lm.groups.mmlu_stem, lm.results.mmlu_stem);
    assert.deepEqual(lm.group_subtasks.mmlu_other, ['mmlu_virology']);
    assert.equal(lm['n-shot'].mmlu_anatomy, 0);
    assert.equal(lm.versions.mmlu_anatomy, 1);
    assert.deepEqual(lm['n-samples'].mmlu_anatomy, { original: 135, effective: 6 });
    assert.deepEqual(lm.higher_is_better.mmlu_anatomy, { acc: true, acc_norm: true });
    assert.equal(lm.configs.mmlu_anatomy.num_fewshot, 0);
    assert.equal(lm.configs.mmlu_anatomy.test_split, 'test');
    assert.match(lm.config.model_args as unknown as string, /^pretrained=models\/demo,dtype=fp32,backend=/);
    assert.equal(lm.config.bootstrap_iters, 100000);
  });
});

describe('tuneloop eval (benchmarks)', () => {
  it('--json prints every benchmark\'s results on the shipped data; a missing file stops it before the model loads', () => {
    const config = join(work, 'eval.yaml');
    writeFileSync(config, 'model: models/demo\ncache: false\nbootstrap: 0\nbenchmarks:\n  - {benchmark: mmlu, subjects: [anatomy], limit: 2}\n');
    const { status, stdout, stderr } = tuneloop(['eval', '--config', config, '--json']);
    assert.equal(status, 0, stderr);
    const results = JSON.parse(stdout) as { format: string; format_version: number; benchmarks: BenchmarkResults[] };
    assert.deepEqual([results.format, results.format_version], ['tuneloop-eval-results', 2]);
    assert.equal(results.benchmarks[0].suite.data_dir, shippedMmlu);
    assert.equal(results.benchmarks[0].runs[0].tasks[0].items, 2);
    writeFileSync(config, 'model: models/demo\nbenchmarks:\n  - {benchmark: mmlu, subjects: [anatomy]}\n  - {benchmark: mmlu, subjects: [anatomy], data_dir: no-such-data}\n');
    const missing = tuneloop(['eval', '--config', config]);
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /no-such-data \(benchmarks\[1\]\.data_dir in .*eval\.yaml\): no such folder/);
    assert.doesNotMatch(missing.stderr, /loading|tokenizer:/, 'the data is checked before the model is loaded');
  });
});

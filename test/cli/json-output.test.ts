import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TEXT_METRICS } from '../../src/eval/benchmarks/definition.js';
import { makeDemoModel } from '../../src/models/demo-model.js';
import { camelCaseKeys, parseJsonLines } from '../helpers/json-keys.js';
import { repoRoot } from '../helpers/paths.js';

/**
 * Every command that prints results has --json, and every key it prints or writes to a file is
 * snake_case. Metric names shared with rouge-score and lm-eval (rougeL, rougeLsum) are that tool's
 * identifiers, not field names, and stay as they are.
 */
const cli = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const tasks = join(repoRoot, 'data', 'tasks');
let work: string;
let model: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'tuneloop-json-'));
  model = join(work, 'demo');
  await makeDemoModel(model);
});
after(() => rmSync(work, { recursive: true, force: true }));

function tuneloop(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, TUNELOOP_BACKEND: 'typescript' };
  delete env.TUNELOOP_DATA_DIR;
  const result = spawnSync(process.execPath, [cli, ...args], { cwd: work, encoding: 'utf8', env });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** stdout of a command that must succeed. */
function succeeds(args: string[]): string {
  const { status, stdout, stderr } = tuneloop(args);
  assert.equal(status, 0, `${args.join(' ')}: ${stderr}`);
  return stdout;
}

/** Every .json and .jsonl file under `dir`, parsed. */
function jsonFilesUnder(dir: string): Map<string, unknown[]> {
  const found = new Map<string, unknown[]>();
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const path = join(dir, name);
    if (!statSync(path).isFile()) continue;
    if (name.endsWith('.jsonl')) found.set(name, parseJsonLines(readFileSync(path, 'utf8')));
    else if (name.endsWith('.json')) found.set(name, [JSON.parse(readFileSync(path, 'utf8')) as unknown]);
  }
  return found;
}

/** Asserts no file under `dir` has a camelCase key; returns the files' names, for the caller to check what was walked. */
function assertSnakeCaseFiles(dir: string): string[] {
  const files = jsonFilesUnder(dir);
  for (const [name, values] of files) {
    assert.deepEqual(values.flatMap((value) => camelCaseKeys(value, TEXT_METRICS)), [], `${name} has only snake_case keys`);
  }
  return [...files.keys()];
}

function trainConfig(name: string, method: string, taskLines: string[]): string {
  const path = join(work, `${name}.yaml`);
  writeFileSync(
    path,
    [
      `model: ${model}`,
      `output_dir: ${join(work, 'runs', name)}`,
      `method: ${method}`,
      'data: {max_length: 48}',
      'training: {epochs: 1, batch_size: 8, max_steps: 2, checkpoint_every: 1, eval_every: 1}',
      'tasks:',
      ...taskLines,
    ].join('\n'),
  );
  return path;
}

interface TrainJson {
  task: string;
  adapter_dir: string;
  already_finished: boolean;
  steps: number;
  resumed_from: number | null;
  final_loss: number | null;
  best_validation_loss: number | null;
  best_step: number | null;
  stopped_early: boolean;
  seconds: number;
  tokens: number;
}

it('the key check reports camelCase field names, not paths, lm-eval metric keys or allowed names', () => {
  const value = { snake_case: 1, fooBar: { rougeL: { lowBound: 0 } }, '/tmp/xY/model': { stamp: '' }, 'acc,none': 1, rows: [{ itemCount: 1 }] };
  assert.deepEqual(camelCaseKeys(value, ['rougeL']), ['$.fooBar', '$.fooBar.rougeL.lowBound', '$.rows[0].itemCount']);
});

describe('train and merge --json; the files they write', () => {
  let loraAdapter: string;

  it('train --json prints one object per task, says when a task was already finished, and its files have snake_case keys only', () => {
    const config = trainConfig('lora', '{type: lora, r: 4, target_modules: [query_key_value]}', [
      `  - {name: language, train: ${join(tasks, 'grammar.train.jsonl')}, validation: ${join(tasks, 'grammar.valid.jsonl')}}`,
      `  - {name: knowledge, train: ${join(tasks, 'capitals.train.jsonl')}}`,
    ]);
    const first = parseJsonLines(succeeds(['train', '--config', config, '--json'])) as TrainJson[];
    assert.deepEqual(first.map((t) => [t.task, t.already_finished, t.steps, t.resumed_from]), [['language', false, 2, null], ['knowledge', false, 2, null]]);
    assert.equal(first[0].adapter_dir, join(work, 'runs', 'lora', 'language', 'adapter'));
    assert.ok(first.every((t) => typeof t.final_loss === 'number' && typeof t.best_validation_loss === 'number' && t.tokens > 0));
    const summary = JSON.parse(readFileSync(join(work, 'runs', 'lora', 'language', 'training_summary.json'), 'utf8')) as Record<string, unknown>;
    for (const [key, value] of Object.entries(first[0])) {
      if (!['task', 'adapter_dir', 'already_finished'].includes(key)) assert.deepEqual(summary[key], value, `${key} as training_summary.json has it`);
    }

    const again = parseJsonLines(succeeds(['train', '--config', config, '--json'])) as TrainJson[];
    assert.deepEqual(again.map((t) => t.already_finished), [true, true]);
    assert.deepEqual(again.map((t) => ({ ...t, already_finished: false })), first, 'the rerun reports the finished runs as they were');

    const walked = assertSnakeCaseFiles(join(work, 'runs', 'lora'));
    for (const kind of ['training_summary.json', 'train_log.jsonl', 'trainer_state.json', 'adapter_config.json', 'tuneloop_base_model.json']) {
      assert.ok(walked.some((name) => name.endsWith(kind)), `${kind} was checked`);
    }
    loraAdapter = first[0].adapter_dir;
  });

  it('bias tuning writes selective_tuning.json with snake_case keys; merge --json prints the merge and tuneloop_merge.json is snake_case', () => {
    const config = trainConfig('bias', '{type: bias}', [`  - {name: language, train: ${join(tasks, 'grammar.train.jsonl')}}`]);
    const [trained] = parseJsonLines(succeeds(['train', '--config', config, '--json'])) as TrainJson[];
    assert.ok(assertSnakeCaseFiles(join(work, 'runs', 'bias')).some((name) => name.endsWith('selective_tuning.json')));

    for (const [adapter, method] of [[trained.adapter_dir, 'selective'], [loraAdapter, 'lora']] as const) {
      const out = join(work, `merged-${method}`);
      const merged = JSON.parse(succeeds(['merge', '--model', model, '--adapter', adapter, '--out', out, '--json'])) as Record<string, unknown>;
      assert.deepEqual(Object.keys(merged).sort(), ['adapter', 'base_model', 'merged_tensors', 'method', 'out', 'seconds']);
      assert.deepEqual([merged.out, merged.base_model, merged.adapter, merged.method], [out, model, adapter, method]);
      assert.ok((merged.merged_tensors as number) > 0);
      const record = JSON.parse(readFileSync(join(out, 'tuneloop_merge.json'), 'utf8')) as Record<string, unknown>;
      assert.equal(record.merged_tensors, merged.merged_tensors, 'the printed count is the recorded one');
      assert.deepEqual(assertSnakeCaseFiles(out).sort(), ['config.json', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json', 'tuneloop_merge.json']);
    }
  });
});

describe('--json of the commands that print results, and the results files, have snake_case keys', () => {
  it('info, generate, score', () => {
    const printed = [
      JSON.parse(succeeds(['info', '--model', model, '--json'])) as unknown,
      ...parseJsonLines(succeeds(['generate', '--model', model, '--prompt', 'The tutor', '--prompt', 'A cat', '--max-new-tokens', '3', '--json'])),
      ...parseJsonLines(succeeds(['score', '--model', model, '--context', 'The tutor', '--continuation', ' explains', '--json'])),
    ];
    assert.equal(printed.length, 4, 'info, two generations, one score');
    assert.deepEqual(printed.flatMap((value) => camelCaseKeys(value)), []);
  });

  it('metrics: corpus, per-item and sentence BLEU, chrF, TER; ROUGE with items and bootstrap intervals', () => {
    const hyp = join(work, 'hyp.txt');
    const ref = join(work, 'ref.txt');
    writeFileSync(hyp, 'the cat sat on the mat\nhello there\n');
    writeFileSync(ref, 'the cat sat on a mat\nhello here\n');
    const runs = [
      ...['bleu', 'chrf', 'ter'].flatMap((metric) => [[metric, '--per-item'], [metric, '--sentence']]),
      ['rouge', '--per-item', '--bootstrap', '20'],
    ];
    for (const [metric, ...options] of runs) {
      const printed = JSON.parse(succeeds(['metrics', metric, '--hyp', hyp, '--ref', ref, '--json', ...options])) as unknown;
      assert.deepEqual(camelCaseKeys(printed, TEXT_METRICS), [], `metrics ${metric} ${options.join(' ')}`);
    }
  });

  it('bench --json, --out, --lm-eval-out and its cache; eval --json and --out; helm --json and --out', () => {
    const bench = join(work, 'bench');
    const mmlu = ['mmlu', '--model', model, '--subjects', 'anatomy', '--limit', '3'];
    const printed = [
      succeeds(['bench', ...mmlu, '--cache-dir', join(bench, 'cache'), '--out', join(bench, 'results.json'), '--lm-eval-out', join(bench, 'lm-eval.json'), '--json']),
      succeeds(['helm', ...mmlu, '--generation-limit', '2', '--max-new-tokens', '4', '--no-cache', '--out', join(bench, 'helm'), '--json']),
    ];
    const evalConfig = join(work, 'eval.yaml');
    writeFileSync(evalConfig, `model: ${model}\nout: ${join(bench, 'eval.json')}\ncache: false\nbenchmarks:\n  - {benchmark: mmlu, subjects: [anatomy], limit: 3}\n`);
    printed.push(succeeds(['eval', '--config', evalConfig, '--json']));
    for (const output of printed) assert.deepEqual(camelCaseKeys(JSON.parse(output), TEXT_METRICS), []);
    const walked = assertSnakeCaseFiles(bench);
    for (const kind of ['results.json', 'lm-eval.json', 'helm-results.json', 'eval.json']) assert.ok(walked.some((name) => name.endsWith(kind)), `${kind} was checked`);
    assert.ok(walked.some((name) => name.startsWith('cache')), 'the cache was checked');
  });
});

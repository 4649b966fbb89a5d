import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { defaultMetricRegistry } from '../../src/eval/evaluators/metric-registry.js';
import { readEvalSuite } from '../../src/eval/evaluators/suite-config.js';
import { repoRoot } from '../helpers/paths.js';
import { writeTinyModelDir } from '../helpers/tiny-model-dir.js';

/**
 * Every command checks its options and its config before it loads a model or does other work: a bad
 * value fails at once, with a valid model at hand, and the error names the flag or the YAML field.
 */

const cli = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const scratch = mkdtempSync(join(tmpdir(), 'tuneloop-checks-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const model = writeTinyModelDir(join(scratch, 'tiny'));
const nowhere = join(scratch, 'nowhere');
const data = join(repoRoot, 'data', 'tasks');

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, TUNELOOP_BACKEND: 'typescript' } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function file(name: string, text: string): string {
  const path = join(scratch, name);
  writeFileSync(path, text);
  return path;
}

/** The command fails with exit code 2 and prints only the error: no tokenizer read, no model loaded, no output. */
function failsFirst(args: string[], message: RegExp): void {
  const { status, stdout, stderr } = run(args);
  const shown = `${args.join(' ')} → ${stderr}`;
  assert.equal(status, 2, shown);
  assert.equal(stdout, '', shown);
  assert.ok(stderr.startsWith(`tuneloop ${args[0]}: `), `the error is the first thing printed: ${shown}`);
  assert.doesNotMatch(stderr, /^(tokenizer|loading|adapter|task|evaluating)\b/m, `nothing ran: ${shown}`);
  assert.match(stderr, message, shown);
}

test('a missing model folder and a folder without config.json are told apart', () => {
  failsFirst(['info', '--model', nowhere], /^tuneloop info: --model: .*nowhere does not exist$/m);
  mkdirSync(join(scratch, 'empty'), { recursive: true });
  failsFirst(['info', '--model', join(scratch, 'empty')], /--model: .*empty exists but has no config\.json/);
  failsFirst(['info', '--model', model, '--jsn'], /^tuneloop info: --jsn: is not an option of tuneloop info; tuneloop info --help lists them$/m);
});

test('score checks every option before reading the tokenizer', () => {
  const pair = ['--context', 'a', '--continuation', ' b'];
  failsFirst(['score', '--model', model, ...pair, '--batch-size', '-1'], /--batch-size: must be an integer of at least 1, got "-1"/);
  failsFirst(['score', '--model', nowhere, ...pair, '--max-length', '1'], /--max-length: must be an integer of at least 2/);
  failsFirst(['score', '--model', model, ...pair, '--backend', 'gpu'], /--backend: must be auto, native or typescript, got "gpu"/);
  failsFirst(['score', '--model', model, ...pair, '--adapter', nowhere], /--adapter: .*nowhere does not exist/);
  failsFirst(['score', '--model', model, ...pair, '--adapter', model], /--adapter: .* is not an adapter directory.*looks like a full model directory: pass it as --model/);
});

test('bench checks its options, model options and benchmark before loading', () => {
  failsFirst(['bench', 'mmlu', '--model', nowhere, '--shots', '-1'], /--shots: must be an integer of at least 0, got "-1"/);
  failsFirst(['bench', 'mmlu', '--model', model, '--bootstrap', '-5'], /--bootstrap: must be an integer of at least 0, got "-5"/);
  failsFirst(['bench', 'mmlu', '--model', model, '--dtype', 'fp8'], /--dtype: must be fp32 or bf16/);
  failsFirst(['bench', 'no-such-bench', '--model', model], /benchmark: "no-such-bench" is neither a shipped benchmark/);
  failsFirst(['bench', 'mmlu', 'superglue', '--model', model], /benchmark: give one benchmark/);
});

test('helm checks sampling and selection options, with their flag names, before loading', () => {
  failsFirst(['helm', 'mmlu', '--model', model, '--temperature', '-1'], /--temperature: must be a number greater than 0, got "-1"/);
  failsFirst(['helm', 'mmlu', '--model', model, '--temperature', 'hot'], /--temperature: must be a number, got "hot"/);
  failsFirst(['helm', 'mmlu', '--model', nowhere, '--generation-limit', '-2'], /--generation-limit: must be an integer of at least 0, got "-2"/);
  failsFirst(['helm', 'mmlu', '--model', model, '--max-new-tokens', '0'], /--max-new-tokens: must be an integer of at least 1/);
  failsFirst(['helm', 'mmlu', '--model', model, '--metric', 'f1'], /--metric: must be acc or acc_norm/);
  failsFirst(['helm', 'mmlu', '--model', nowhere], /--model: .*nowhere does not exist/);
});

test('metrics checks its options before reading any file', () => {
  failsFirst(['metrics', 'chrf', '--hyp', nowhere, '--ref', nowhere, '--beta', '-1'], /--beta: must be an integer of at least 0, got "-1"/);
  failsFirst(['metrics', 'rouge', '--pairs', nowhere, '--confidence', '-0.5', '--bootstrap', '10'], /--confidence: must be in \[0, 1\], got "-0\.5"/);
});

test('train checks its flags, config, model folder and data files before loading; every config field is in --help', () => {
  const config = (lines: string[]) =>
    file('train.yaml', [`model: ${model}`, `output_dir: ${join(scratch, 'runs')}`, 'tasks:', ...lines].join('\n'));
  const good = config([`  - {name: grammar, train: ${join(data, 'grammar.train.jsonl')}}`]);
  failsFirst(['train', '--config', good, '--backend', 'gpu'], /--backend: must be auto, native or typescript, got "gpu"/);
  failsFirst(['train', '--config', good, '--set', 'training.max_steps=-1'], /train\.yaml: training\.max_steps: must be >= 1, got -1/);
  failsFirst(['train', '--config', good, '--set', `model=${nowhere}`], /train\.yaml: model: .*nowhere does not exist/);
  const missingData = config([`  - {name: grammar, train: ${join(data, 'grammar.train.jsonl')}, validation: ${join(scratch, 'gone.jsonl')}}`]);
  failsFirst(['train', '--config', missingData], /train\.yaml: tasks\[0\]\.validation: .*gone\.jsonl does not exist/);

  const help = run(['train', '--help']).stdout;
  for (const field of [
    'model', 'dtype', 'backend', 'output_dir', 'seed', 'method', 'type', 'r', 'lora_alpha', 'lora_dropout', 'target_modules', 'use_rslora', 'double_quant',
    'num_virtual_tokens', 'init', 'init_text', 'parameters', 'data', 'max_length', 'over_length', 'completion_only_loss', 'packing', 'validation_fraction',
    'training', 'epochs', 'max_steps', 'batch_size', 'gradient_accumulation', 'learning_rate', 'weight_decay', 'warmup_steps', 'schedule', 'max_grad_norm',
    'eval_every', 'early_stopping_patience', 'checkpoint_every', 'gradient_checkpointing', 'tasks', 'name', 'train', 'validation',
  ]) {
    assert.match(help, new RegExp(`\\b${field}\\b`), `train --help names ${field}`);
  }
});

test('eval reports a broken YAML file first, and checks a benchmark run before loading', () => {
  const broken = file('broken.yaml', 'model: [unclosed\n');
  failsFirst(['eval', '--config', broken, '--model', model], /--config: cannot read .*broken\.yaml: Flow sequence/);
  const badField = file('bad-field.yaml', `model: ${model}\nbenchmarks: [{benchmark: mmlu, shots: -1}]\n`);
  failsFirst(['eval', '--config', badField, '--model', model], /bad-field\.yaml: benchmarks\[0\]\.shots: must be >= 0, got -1/);
  // Benchmarks are checked in order, data included: the first names a subject the shipped MMLU sample holds.
  const unknownBench = file('unknown-bench.yaml', `model: ${model}\nbenchmarks: [{benchmark: mmlu, subjects: [anatomy]}, {benchmark: no-such-bench}]\n`);
  failsFirst(['eval', '--config', unknownBench], /benchmark: "no-such-bench" is neither a shipped benchmark/);
  const noModel = file('no-model.yaml', 'benchmarks: [{benchmark: mmlu}]\n');
  failsFirst(['eval', '--config', noModel], /--model: .*no-model\.yaml names no model: add model: to the file, or give --model DIR/);
  failsFirst(['eval', '--config', noModel, '--model', nowhere], /--model: .*nowhere does not exist/);
  const wrongModel = file('wrong-model.yaml', 'model: nowhere\nbenchmarks: [{benchmark: mmlu}]\n');
  failsFirst(['eval', '--config', wrongModel], /wrong-model\.yaml: model: .*nowhere does not exist/);
  failsFirst(['eval', '--config', wrongModel, '--judge-model', 'm'], /--judge-model: is not an option of tuneloop eval for a benchmark run/);
  const badDtype = file('bad-dtype.yaml', `model: ${model}\ndtype: fp8\nbenchmarks: [{benchmark: mmlu}]\n`);
  failsFirst(['eval', '--config', badDtype], /bad-dtype\.yaml: dtype: must be one of fp32, bf16/);
});

test('eval of an assertion suite checks its options before loading; --model overrides the suite model:', () => {
  const suite = join(repoRoot, 'configs', 'evaluators', 'tutor.yaml');
  failsFirst(['eval', '--config', suite, '--model', model, '--judge-timeout-ms', '0'], /--judge-timeout-ms: must be an integer of at least 1, got "0"/);
  failsFirst(['eval', '--config', suite, '--model', model, '--backend', 'gpu'], /--backend: must be auto, native or typescript/);
  failsFirst(['eval', '--config', suite, '--model', nowhere], /--model: .*nowhere does not exist/);
  failsFirst(['eval', '--config', suite, '--out', 'x'], /--out: is not an option of tuneloop eval for an assertion suite/);
  const relative = file('relative-model.yaml', 'model: nowhere\nprompts: ["{{q}}"]\ntests: [{vars: {q: x}, assert: [{type: equals, value: a}]}]\n');
  failsFirst(['eval', '--config', relative], /relative-model\.yaml: model: .*nowhere does not exist/);
});

test('a suite model: is relative to the suite file; the shipped tutor suite names the demo model', () => {
  const path = file('suite-with-model.yaml', 'model: tiny\nprompts: ["{{q}} Answer:"]\ngeneration: {max_new_tokens: 2}\ntests: [{vars: {q: x}, assert: [{type: not-equals, value: never}]}]\n');
  const { status, stdout, stderr } = run(['eval', '--config', path, '--json']);
  assert.equal(status, 0, stderr);
  assert.equal((JSON.parse(stdout) as { model: string }).model, model);
  assert.equal(readEvalSuite(join(repoRoot, 'configs', 'evaluators', 'tutor.yaml'), defaultMetricRegistry()).model, join(repoRoot, 'models', 'demo'));
});

test('eval --model runs a benchmark file that names no model; the file\'s out: is relative to the file', () => {
  const dir = join(scratch, 'eval-run');
  mkdirSync(dir, { recursive: true });
  const superglue = join(repoRoot, 'test', 'fixtures', 'eval', 'superglue');
  const config = join(dir, 'eval.yaml');
  writeFileSync(config, `benchmarks: [{benchmark: superglue, tasks: [boolq], limit: 2, data_dir: ${superglue}}]\ncache: false\nbootstrap: 0\nout: results.json\n`);
  const { status, stderr } = run(['eval', '--config', config, '--model', model]);
  assert.equal(status, 0, stderr);
  const results = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as { benchmarks: { model: { dir: string } }[] };
  assert.equal(results.benchmarks[0].model.dir, model);
});

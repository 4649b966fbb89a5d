/**
 * `tuneloop train` run again on the same output: a finished config changes nothing, another config is
 * refused naming its changed fields, --fresh trains again, and a resume may extend max_steps. Driven
 * through the CLI, from a current folder other than the config's, on the tiny fixture model.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { repoRoot } from '../helpers/paths.js';
import { writeTinyModelDir } from '../helpers/tiny-model-dir.js';

const scratch = mkdtempSync(join(tmpdir(), 'tuneloop-rerun-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const cli = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const project = join(scratch, 'project');
const runs = join(project, 'runs');

writeTinyModelDir(join(project, 'model'));
mkdirSync(join(project, 'data'));
mkdirSync(join(project, 'configs'));
for (const file of ['grammar.train.jsonl', 'grammar.valid.jsonl', 'capitals.train.jsonl']) copyFileSync(join(repoRoot, 'data', 'tasks', file), join(project, 'data', file));
const config = join(project, 'configs', 'train.yaml');
writeFileSync(
  config,
  [
    'model: ../model',
    'output_dir: ../runs',
    'method: {type: lora, r: 4, target_modules: [query_key_value]}',
    'data: {max_length: 48}',
    'training: {epochs: 1, batch_size: 16, max_steps: 3, checkpoint_every: 2}',
    'tasks:',
    '  - {name: language, train: ../data/grammar.train.jsonl, validation: ../data/grammar.valid.jsonl}',
    '  - {name: knowledge, train: ../data/capitals.train.jsonl}',
  ].join('\n'),
);

/** The CLI run from `scratch`, not the config's folder: the config's paths must not depend on it. */
function train(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cli, 'train', '--config', config, ...args], { cwd: scratch, encoding: 'utf8', env: { ...process.env, TUNELOOP_BACKEND: 'typescript' } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Every file under `dir` with its bytes and modification time. */
function snapshot(dir: string): Map<string, { bytes: string; mtimeMs: number }> {
  const out = new Map<string, { bytes: string; mtimeMs: number }>();
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out.set(path, { bytes: readFileSync(path).toString('base64'), mtimeMs: statSync(path).mtimeMs });
  }
  return out;
}

const logSteps = (task: string) =>
  readFileSync(join(runs, task, 'train_log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { event: string; step: number })
    .filter((record) => record.event === 'step')
    .map((record) => record.step);

test('a finished run rerun says so and changes no file; another config is refused by field; --fresh trains again', () => {
  const first = train();
  assert.equal(first.status, 0, first.stderr);
  assert.deepEqual(first.stdout.trim().split('\n'), [join(runs, 'language', 'adapter'), join(runs, 'knowledge', 'adapter')]);
  const summary = JSON.parse(readFileSync(join(runs, 'language', 'training_summary.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(summary.steps, 3);
  assert.equal(typeof summary.final_loss, 'number');
  assert.ok((summary.tokens as number) > 0);
  assert.equal((summary.config as Record<string, unknown>)['method.r'], 4);
  for (const key of Object.keys(summary)) assert.match(key, /^[a-z][a-z0-9_]*$/, `training_summary.json key ${key}`);
  const before = snapshot(runs);

  const again = train();
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stderr, /task language: already finished at step 3 \(final loss \d+\.\d{4}, adapter .*language\/adapter\); nothing to do; use --fresh to train again/);
  assert.match(again.stderr, /task knowledge: already finished at step 3/);
  assert.doesNotMatch(again.stderr, /loading|tokenizer:/, 'nothing is loaded when every task is finished');
  assert.equal(again.stdout, first.stdout);
  assert.deepEqual(snapshot(runs), before);

  // lora_alpha defaults to 2r, so it changes with r: every changed field is named.
  const changed = train('--set', 'method.r=8', '--set', 'training.learning_rate=0.01');
  assert.equal(changed.status, 2);
  assert.match(changed.stderr, /output_dir: .*language holds a run finished with another configuration: method\.r was 4, now 8; method\.lora_alpha was 8, now 16; training\.learning_rate was 0\.001, now 0\.01; use --fresh/);
  assert.deepEqual(snapshot(runs), before);

  const fresh = train('--set', 'method.r=8', '--fresh');
  assert.equal(fresh.status, 0, fresh.stderr);
  assert.match(fresh.stderr, /task language: 3 steps, final loss/);
  assert.equal((JSON.parse(readFileSync(join(runs, 'language', 'adapter', 'adapter_config.json'), 'utf8')) as { r: number }).r, 8);
  assert.deepEqual(logSteps('language'), [1, 2, 3]);
});

test('an unfinished run resumes from its checkpoint: with another rank it is refused by name, with more steps it goes on', () => {
  const ranked = train('--set', 'method.r=8', '--fresh');
  assert.equal(ranked.status, 0, ranked.stderr);
  // As if killed after the step-2 checkpoint: no adapter, no summary; the log holds step 3 too.
  for (const task of ['language', 'knowledge']) for (const name of ['adapter', 'training_summary.json']) rmSync(join(runs, task, name), { recursive: true });

  const otherRank = train('--set', 'method.r=16');
  assert.equal(otherRank.status, 2);
  assert.match(otherRank.stderr, /checkpoint in .*language\/checkpoints\/step-2 was written by a run with another configuration: method\.r was 8, now 16; method\.lora_alpha was 16, now 32; use --fresh/);

  const longer = train('--set', 'method.r=8', '--set', 'training.max_steps=4');
  assert.equal(longer.status, 0, longer.stderr);
  assert.match(longer.stderr, /task language: 4 steps \(resumed at 2\)/);
  assert.deepEqual(logSteps('language'), [1, 2, 3, 4]);
});

test('a summary from an older tuneloop, without a configuration record, is refused with the way out', () => {
  const summaryPath = join(runs, 'language', 'training_summary.json');
  writeFileSync(summaryPath, JSON.stringify({ task: 'language', steps: 4, resumedFrom: 2, finalLoss: 1.5, tokens: 100 }));
  const result = train('--set', 'method.r=8', '--set', 'training.max_steps=4');
  assert.equal(result.status, 2);
  assert.match(result.stderr, /language\/training_summary\.json was written by an older tuneloop, which did not record its configuration; use --fresh to train again/);
  writeFileSync(summaryPath, '{"task": "lang');
  assert.match(train('--set', 'method.r=8', '--set', 'training.max_steps=4').stderr, /training_summary\.json is unreadable \(.*\); use --fresh/);
});

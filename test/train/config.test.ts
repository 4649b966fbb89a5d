import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { InvalidInputError } from '../../src/errors.js';
import { applyOverride, parseTrainConfig, readTrainConfig } from '../../src/train/config.js';
import { repoRoot } from '../helpers/paths.js';

const scratch = mkdtempSync(join(tmpdir(), 'tuneloop-train-config-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const minimal = { model: 'models/demo', tasks: [{ name: 'arithmetic', train: 'a.jsonl' }] };

test('defaults fill a minimal config', () => {
  const config = parseTrainConfig(minimal);
  assert.equal(config.method.type, 'lora');
  assert.deepEqual(config.method.type === 'lora' && config.method.targetModules, ['query_key_value']);
  assert.equal(config.training.batchSize, 8);
  assert.equal(config.data.completionOnlyLoss, true);
  assert.equal(config.tasks[0].validation, null);
});

test('several tasks, prompt tuning, and overrides from the command line', () => {
  const raw = {
    ...minimal,
    method: { type: 'prompt_tuning', num_virtual_tokens: 10, init: 'TEXT', init_text: 'Answer the question' },
    tasks: ['history', 'math', 'language', 'knowledge'].map((name) => ({ name, train: `${name}.jsonl` })),
  };
  applyOverride(raw, 'training.learning_rate=0.3');
  applyOverride(raw, 'training.schedule=cosine');
  const config = parseTrainConfig(raw);
  assert.equal(config.tasks.length, 4);
  assert.equal(config.training.learningRate, 0.3);
  assert.equal(config.training.schedule, 'cosine');
  assert.equal(config.method.type === 'prompt_tuning' && config.method.numVirtualTokens, 10);
});

test('errors name the field by its path', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ tasks: minimal.tasks }, /: model: is required/],
    [{ ...minimal, training: { learning_rate: -1 } }, /training\.learning_rate: must be > 0/],
    [{ ...minimal, training: { batch_size: 2.5 } }, /training\.batch_size: must be an integer/],
    [{ ...minimal, training: { lr: 1 } }, /training\.lr: is not a known field/],
    [{ ...minimal, method: { type: 'adapter' } }, /method\.type: must be one of lora, qlora, prompt_tuning, bias, layernorm, selective/],
    [{ ...minimal, method: { type: 'prompt_tuning', init: 'TEXT' } }, /method\.init_text: is required when method\.init is TEXT/],
    [{ ...minimal, tasks: [] }, /tasks: must be a non-empty list/],
    [{ model: 'models/demo' }, /tasks: is required: a non-empty list/],
    [{ ...minimal, tasks: [{ name: 'a/b', train: 'x' }] }, /tasks\[0\]\.name: "a\/b" must use letters/],
    [{ ...minimal, tasks: [{ name: 'a', train: 'x' }, { name: 'a', train: 'y' }] }, /tasks\[1\]\.name: "a" appears twice/],
    [{ ...minimal, data: { over_length: 'cut' } }, /data\.over_length: must be one of truncate, refuse/],
  ];
  for (const [raw, pattern] of cases) {
    assert.throws(() => parseTrainConfig(raw, 'train.yaml'), (e: unknown) => InvalidInputError.isInstance(e) && pattern.test(e.message) && e.message.startsWith('train.yaml'), String(pattern));
  }
});

test('relative paths in a YAML file resolve from its folder, those from --set from the current folder', () => {
  const folder = join(scratch, 'project', 'configs');
  mkdirSync(folder, { recursive: true });
  const file = join(folder, 'train.yaml');
  writeFileSync(file, ['model: ../models/demo', 'tasks:', '  - {name: a, train: data/a.jsonl, validation: /abs/a.valid.jsonl}'].join('\n'));
  const config = readTrainConfig(file);
  assert.equal(config.model, join(scratch, 'project', 'models', 'demo'));
  assert.equal(config.tasks[0].train, join(folder, 'data', 'a.jsonl'));
  assert.equal(config.tasks[0].validation, '/abs/a.valid.jsonl');
  assert.equal(config.outputDir, join(folder, 'runs', 'train'), 'the default output_dir is beside the file too');

  const overridden = readTrainConfig(file, ['output_dir=runs/x', 'tasks=[{name: b, train: b.jsonl}]']);
  assert.equal(overridden.outputDir, resolve('runs/x'));
  assert.equal(overridden.tasks[0].train, resolve('b.jsonl'));
  assert.equal(overridden.model, join(scratch, 'project', 'models', 'demo'));
});

test('configs/tutor.yaml names the shipped data and demo model wherever it is run from', () => {
  const config = readTrainConfig(join(repoRoot, 'configs', 'tutor.yaml'));
  assert.equal(config.model, join(repoRoot, 'models', 'demo'));
  assert.equal(config.outputDir, join(repoRoot, 'runs', 'tutor'));
  for (const task of config.tasks) {
    for (const file of [task.train, task.validation ?? '']) assert.ok(existsSync(file), file);
  }
});

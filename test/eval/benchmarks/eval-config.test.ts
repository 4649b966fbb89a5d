import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readEvalConfig } from '../../../src/eval/benchmarks/eval-config.js';
import { InvalidInputError } from '../../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'tuneloop-eval-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function configFile(text: string): string {
  const file = join(dir, `eval-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, text);
  return file;
}

test('an eval config: paths relative to the file, defaults, benchmarks by name or file', () => {
  const config = readEvalConfig(configFile(`model: models/demo
adapters: [runs/a/adapter]
bootstrap: 0
benchmarks:
  - {benchmark: mmlu, shots: 5, subjects: [anatomy], limit: 10}
  - {benchmark: defs/quiz.yaml, data_dir: data}
`));
  assert.equal(config.model, join(dir, 'models/demo'));
  assert.deepEqual(config.adapters, [join(dir, 'runs/a/adapter')]);
  assert.equal(config.includeBase, null, 'include_base left to its default: the base runs only without adapters');
  assert.equal(config.batchSize, 8);
  assert.equal(config.bootstrap, null, 'bootstrap: 0 turns intervals off');
  assert.equal(config.cacheDir, 'runs/cache/bench');
  assert.deepEqual(config.benchmarks[0], { benchmark: 'mmlu', shots: 5, subjects: ['anatomy'], tasks: undefined, limit: 10, dataDir: undefined });
  assert.equal(config.benchmarks[1].benchmark, join(dir, 'defs/quiz.yaml'));
  assert.equal(config.benchmarks[1].dataDir, join(dir, 'data'));
  assert.match(config.benchmarks[1].dataDirOrigin!, /^benchmarks\[1\]\.data_dir in .*\.yaml$/, 'messages about the folder name the field it came from');
});

test('an eval config may leave the model to --model', () => {
  const config = readEvalConfig(configFile('include_base: true\nbenchmarks: [{benchmark: mmlu}]\n'));
  assert.equal(config.model, null);
  assert.equal(config.includeBase, true);
});

test('eval config errors name the file and the field path', () => {
  const cases: [string, RegExp][] = [
    ['model: m\nbenchmarks: []\n', /benchmarks: must be a non-empty list/],
    ['model: m\n', /benchmarks: is required: a non-empty list/],
    ['model: m\nbenchmark: [mmlu]\n', /benchmark: is not a known field/],
    ['model: m\nbenchmarks: [{benchmark: mmlu, shots: -1}]\n', /benchmarks\[0\]\.shots: must be >= 0, got -1/],
    ['model: m\nbenchmarks: [{benchmark: mmlu, limit: 2.5}]\n', /benchmarks\[0\]\.limit: must be an integer, got 2\.5/],
    ['model: m\ncache: maybe\nbenchmarks: [{benchmark: mmlu}]\n', /cache: must be true or false/],
    ['model: ""\nbenchmarks: [{benchmark: mmlu}]\n', /model: must be a non-empty string/],
  ];
  for (const [text, expected] of cases) {
    const file = configFile(text);
    assert.throws(() => readEvalConfig(file), (e) => InvalidInputError.isInstance(e) && e.message.startsWith(file) && expected.test(e.message), text);
  }
});

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseBackendChoice } from '../../src/cli/model-option-checks.js';
import { MODEL_OPTIONS_HELP, loadBaseModelForCli } from '../../src/cli/model-options.js';
import { InvalidInputError } from '../../src/errors.js';
import { SUPPORTED_PEFT_TYPES } from '../../src/peft/apply-adapter.js';
import { nativeTest } from '../helpers/native-test.js';
import { repoRoot } from '../helpers/paths.js';
import { loadReference } from '../helpers/reference.js';

const cli = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const ref = loadReference('a');
const scratch = mkdtempSync(join(tmpdir(), 'tuneloop-model-options-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function generate(extra: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stderr: string } {
  const ids = Array.from(ref.ints('input_ids').subarray(0, 4)).join(',');
  const args = [cli, 'generate', '--model', ref.checkpointDir, '--ids', ids, '--max-new-tokens', '2', '--greedy', '--json', ...extra];
  const result = spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, TUNELOOP_THREADS: '', ...env } });
  return { status: result.status, stderr: result.stderr };
}

test('a bad --threads is rejected naming the flag, before the checkpoint is read', async () => {
  // A config.json without weights: loading would fail with a CheckpointError, so the --threads
  // error shows the flag was checked first.
  const dir = join(scratch, 'config-only');
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(ref.checkpointDir, 'config.json'), join(dir, 'config.json'));
  for (const threads of ['0', 'abc', '', '1025']) {
    await assert.rejects(loadBaseModelForCli({ model: dir, dtype: 'fp32', backend: 'typescript', threads }), (error: unknown) => {
      assert.ok(InvalidInputError.isInstance(error), String(error));
      assert.equal(error.message, `--threads: must be a whole number of threads from 1 to 1024, got "${threads}"`);
      return true;
    });
  }
});

test('a bad --backend is refused by the one backend check every command uses', async () => {
  const expected = (() => {
    try {
      parseBackendChoice('gpu');
    } catch (error) {
      return (error as Error).message;
    }
    assert.fail('gpu is not a backend');
  })();
  assert.equal(expected, '--backend: must be auto, native or typescript, got "gpu"');
  await assert.rejects(loadBaseModelForCli({ model: ref.checkpointDir, dtype: 'fp32', backend: 'gpu' }), { message: expected });
});

test('the --adapter help names every kind of adapter applyAdapter loads', () => {
  const help = MODEL_OPTIONS_HELP.replace(/\s+/g, ' ');
  const inWords: Record<(typeof SUPPORTED_PEFT_TYPES)[number], RegExp> = { LORA: /LoRA/, PROMPT_TUNING: /prompt tuning/, LN_TUNING: /LN tuning/ };
  for (const type of SUPPORTED_PEFT_TYPES) assert.match(help, inWords[type], type);
  for (const feature of [/QLoRA/, /use_dora/, /modules_to_save/, /use_rslora/, /bias or selective tuning files \(selective_tuning\.json and tuned_tensors\.safetensors\)/]) assert.match(help, feature);
});

test('TUNELOOP_BACKEND chooses the backend where --backend is left at auto; an explicit --backend wins', () => {
  const typescript = generate([], { TUNELOOP_BACKEND: 'typescript' });
  assert.equal(typescript.status, 0, typescript.stderr);
  assert.match(typescript.stderr, /typescript backend\)/);
  assert.match(generate(['--backend', 'auto'], { TUNELOOP_BACKEND: 'typescript' }).stderr, /typescript backend\)/);
  const wrong = generate([], { TUNELOOP_BACKEND: 'gpu' });
  assert.equal(wrong.status, 2);
  assert.match(wrong.stderr, /TUNELOOP_BACKEND must be auto, native or typescript, got "gpu"/);
});

nativeTest('--backend native wins over TUNELOOP_BACKEND=typescript', () => {
  assert.match(generate(['--backend', 'native'], { TUNELOOP_BACKEND: 'typescript' }).stderr, /native backend, \d+ threads?\)/);
});

test('tuneloop generate --threads abc exits with the flag named', () => {
  const { status, stderr } = generate(['--threads', 'abc']);
  assert.equal(status, 2);
  assert.match(stderr, /--threads: must be a whole number of threads from 1 to 1024, got "abc"/);
});

nativeTest('tuneloop generate --threads 1 runs the native backend on one thread and says so', () => {
  const { status, stderr } = generate(['--threads', '1', '--backend', 'native']);
  assert.equal(status, 0, stderr);
  assert.match(stderr, /native backend, 1 thread\)/);
});

nativeTest('tuneloop generate with TUNELOOP_THREADS=1 runs on one thread; --threads wins over it', () => {
  assert.match(generate(['--backend', 'native'], { TUNELOOP_THREADS: '1' }).stderr, /native backend, 1 thread\)/);
  assert.match(generate(['--backend', 'native', '--threads', '2'], { TUNELOOP_THREADS: '1' }).stderr, /native backend, 2 threads\)/);
});

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadBaseModelForCli } from '../../src/cli/model-options.js';
import { InvalidInputError } from '../../src/errors.js';
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

/**
 * The native backend's threads: the count set through selectBackend's option or TUNELOOP_THREADS,
 * rejected when malformed before anything loads, and the OpenMP wait policy libgomp starts with.
 * libgomp reads its environment once, when the addon loads, so those checks load it in a child.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import type { NativeBackend } from '../../src/engine/backends/native.js';
import { selectBackend } from '../../src/engine/select-backend.js';
import { InvalidInputError } from '../../src/errors.js';
import { nativeTest } from '../helpers/native-test.js';
import { repoRoot } from '../helpers/paths.js';

/** Runs `body` with TUNELOOP_THREADS set to `value` (unset when undefined), restoring it after. */
async function withThreadsVariable<T>(value: string | undefined, body: () => Promise<T>): Promise<T> {
  const saved = process.env.TUNELOOP_THREADS;
  if (value === undefined) delete process.env.TUNELOOP_THREADS;
  else process.env.TUNELOOP_THREADS = value;
  try {
    return await body();
  } finally {
    if (saved === undefined) delete process.env.TUNELOOP_THREADS;
    else process.env.TUNELOOP_THREADS = saved;
  }
}

async function selectNative(options?: { threads?: number }): Promise<NativeBackend> {
  return (await selectBackend('native', options)) as NativeBackend;
}

nativeTest('selectBackend applies the threads option and reports it; without one the default comes back', async (backend) => {
  await withThreadsVariable(undefined, async () => {
    assert.equal((await selectNative({ threads: 1 })).threads(), 1);
    assert.equal((await selectNative({ threads: 3 })).threads(), 3);
    assert.equal((await selectNative()).threads(), backend.defaultThreads);
  });
});

nativeTest('TUNELOOP_THREADS=1 gives one thread; the threads option wins over it', async () => {
  await withThreadsVariable('1', async () => {
    assert.equal((await selectNative()).threads(), 1);
    assert.equal((await selectNative({ threads: 2 })).threads(), 2);
  });
  await selectNative();
});

nativeTest('a matmul small enough for one thread leaves the thread count as it was', async (backend) => {
  await withThreadsVariable(undefined, async () => {
    await selectNative({ threads: 2 });
    const weight = backend.prepareWeight({ dtype: 'f32', shape: [8, 4], data: new Float32Array(32).fill(1) }, 'f32');
    const y = backend.linear(Float32Array.of(1, 2, 3, 4), 1, weight, null);
    assert.deepEqual(Array.from(y), new Array(8).fill(10));
    assert.equal(backend.threads(), 2);
    await selectNative();
  });
});

for (const bad of ['abc', '0', '-2', '1.5', '2000']) {
  test(`TUNELOOP_THREADS=${bad} is an error naming the variable, whichever backend is asked for`, async () => {
    await withThreadsVariable(bad, async () => {
      for (const choice of ['typescript', 'native'] as const) {
        await assert.rejects(selectBackend(choice), (error: unknown) => {
          assert.ok(InvalidInputError.isInstance(error));
          assert.equal(error.field, 'TUNELOOP_THREADS');
          assert.match(error.message, new RegExp(`TUNELOOP_THREADS: must be a whole number of threads from 1 to 1024, got "${bad}"`));
          return true;
        });
      }
    });
  });
}

test('a threads option outside 1..1024 is an error naming it', async () => {
  for (const threads of [0, 2.5, 1025, Number.NaN]) {
    await assert.rejects(selectBackend('typescript', { threads }), (error: unknown) => InvalidInputError.isInstance(error) && error.field === 'threads');
  }
});

/** libgomp's settings (OMP_DISPLAY_ENV) after a child process selects the native backend. */
function openMpSettingsInChild(env: Record<string, string>): { waitPolicy: string; spinCount: string } {
  const selectBackendModule = join(repoRoot, 'dist', 'src', 'engine', 'select-backend.js');
  const script = `const { selectBackend } = await import(${JSON.stringify(selectBackendModule)}); await selectBackend('native');`;
  const childEnv: NodeJS.ProcessEnv = { ...process.env, OMP_DISPLAY_ENV: 'VERBOSE', ...env };
  for (const name of ['OMP_WAIT_POLICY', 'GOMP_SPINCOUNT'] as const) if (!(name in env)) delete childEnv[name];
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: childEnv });
  assert.equal(child.status, 0, child.stderr);
  const waitPolicy = /OMP_WAIT_POLICY = '(\w+)'/.exec(child.stderr)?.[1];
  const spinCount = /GOMP_SPINCOUNT = '(\d+)'/.exec(child.stderr)?.[1];
  assert.ok(waitPolicy !== undefined && spinCount !== undefined, `libgomp printed no settings:\n${child.stderr}`);
  return { waitPolicy, spinCount };
}

nativeTest('the OpenMP threads wait passively by default (libgomp starts with a spin count of 0)', () => {
  assert.deepEqual(openMpSettingsInChild({}), { waitPolicy: 'PASSIVE', spinCount: '0' });
});

nativeTest("the user's OMP_WAIT_POLICY or GOMP_SPINCOUNT is kept", () => {
  assert.deepEqual(openMpSettingsInChild({ OMP_WAIT_POLICY: 'active' }), { waitPolicy: 'ACTIVE', spinCount: '30000000000' });
  assert.equal(openMpSettingsInChild({ GOMP_SPINCOUNT: '5000' }).spinCount, '5000');
});

/**
 * The run-time choice of the bf16 matmul path. Where oneDNN has no bf16 matmul (AVX2 CPUs) every
 * bf16 test already runs the bf16-as-f32-slabs path; a child process forced onto that path with
 * TUNELOOP_NATIVE_BF16_PATH checks it on machines with a bf16 matmul (AVX512_BF16, AMX) as well.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { nativeTest } from '../../helpers/native-test.js';

nativeTest('capabilities() names the kernels ISA, the oneDNN ISA and the bf16 matmul path', (backend) => {
  const capabilities = backend.capabilities();
  assert.ok(['avx512_bf16', 'avx512', 'avx2', 'scalar'].includes(capabilities.isa), capabilities.isa);
  assert.ok(['onednn-bf16', 'bf16-as-f32-slabs'].includes(capabilities.bf16Matmul), capabilities.bf16Matmul);
  assert.match(capabilities.onednnIsa, /^[a-z0-9_]+$/);
  // oneDNN multiplies bf16 only with AVX512_BF16 or AMX; the addon's own bf16 kernels need the former too.
  if (capabilities.isa === 'avx2' || capabilities.isa === 'scalar') assert.equal(capabilities.bf16Matmul, 'bf16-as-f32-slabs');
});

nativeTest('TUNELOOP_NATIVE_BF16_PATH=bf16-as-f32-slabs forces the widening path, which matches the reference', () => {
  const child = fileURLToPath(new URL('./bf16-slabs-child.js', import.meta.url));
  const run = spawnSync(process.execPath, [child, '--check'], {
    env: { ...process.env, TUNELOOP_NATIVE_BF16_PATH: 'bf16-as-f32-slabs' },
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(run.status, 0, `child failed:\n${run.stdout}\n${run.stderr}`);
  assert.match(run.stdout, /bf16-as-f32-slabs ok/);
});

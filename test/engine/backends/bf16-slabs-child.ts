/**
 * Child process of bf16-path.test.ts, run with TUNELOOP_NATIVE_BF16_PATH=bf16-as-f32-slabs and the
 * argument --check: the addon must report that path, and bf16 linear, linearBackwardInput and NF4
 * bf16 compute must still match the TypeScript reference on every kernel (few-row GEMV, widened
 * slabs, several slabs with a ragged tail). Exits non-zero with the assertion on a mismatch. Without
 * --check (as when the test runner loads every file under test/) it does nothing.
 */
import assert from 'node:assert/strict';
import { loadNativeBackend, NativeWeight } from '../../../src/engine/backends/native.js';
import { TypeScriptBackend } from '../../../src/engine/backends/typescript.js';
import { quantizeNf4 } from '../../../src/peft/qlora/nf4.js';
import { assertClose, randomF32, rng } from '../../helpers/numeric.js';

if (process.argv[2] === '--check') {
  const native = loadNativeBackend();
  const reference = new TypeScriptBackend();
  assert.equal(native.capabilities().bf16Matmul, 'bf16-as-f32-slabs');
  const random = rng(21);
  // [rows, in, out]: 4096 inputs make 256-column slabs, so 300 outputs take two, the second ragged.
  const shapes: Array<[number, number, number]> = [
    [1, 300, 200],
    [16, 64, 70],
    [17, 257, 129],
    [40, 4096, 300],
  ];
  for (const [rows, k, n] of shapes) {
    const tensor = { dtype: 'f32' as const, shape: [n, k] as [number, number], data: randomF32(n * k, random, 0.5) };
    const nw = native.prepareWeight(tensor, 'bf16');
    assert.ok(nw instanceof NativeWeight);
    const rw = reference.prepareWeight(tensor, 'bf16');
    assert.ok(nw.bytes < (n + 64) * (k + 32) * 2, `bf16 weight [${n}, ${k}] stays bf16-sized: ${nw.bytes} bytes`);
    const x = randomF32(rows * k, random);
    const bias = randomF32(n, random);
    const label = `rows=${rows} in=${k} out=${n}`;
    assertClose(native.linear(x, rows, nw, bias), reference.linear(x, rows, rw, bias), 1e-4, `linear ${label}`);
    const dy = randomF32(rows * n, random);
    assertClose(native.linearBackwardInput(dy, rows, nw), reference.linearBackwardInput(dy, rows, rw), 1e-4, `linearBackwardInput ${label}`);
  }
  const [n, k, rows] = [96, 128, 40];
  const nf4 = quantizeNf4(randomF32(n * k, random, 0.05), { shape: [n, k], doubleQuant: true });
  const nq = native.prepareQuantizedWeight(nf4, 'bf16');
  const rq = reference.prepareQuantizedWeight(nf4, 'bf16');
  const x = randomF32(rows * k, random);
  assertClose(native.linear(x, rows, nq, null), reference.linear(x, rows, rq, null), 1e-5, 'NF4 linear');
  const dy = randomF32(rows * n, random);
  assertClose(native.linearBackwardInput(dy, rows, nq), reference.linearBackwardInput(dy, rows, rq), 1e-5, 'NF4 linearBackwardInput');
  process.stdout.write('bf16-as-f32-slabs ok\n');
}

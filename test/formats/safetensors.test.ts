import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CheckpointError } from '../../src/errors.js';
import { SafetensorsFile, writeSafetensors } from '../../src/formats/safetensors.js';
import { bf16ToF32, f32ToBf16 } from '../../src/engine/dtype.js';

const dir = mkdtempSync(join(tmpdir(), 'tuneloop-safetensors-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Builds a safetensors file from a raw header object and data bytes, for corrupt-file cases. */
function rawFile(name: string, header: unknown, data: Uint8Array, lengthOverride?: bigint): string {
  const headerBytes = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(lengthOverride ?? BigInt(headerBytes.length));
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat([length, headerBytes, data]));
  return path;
}

function expectCheckpointError(path: string, pattern: RegExp, tensor?: string): void {
  assert.throws(
    () => SafetensorsFile.open(path),
    (error: unknown) => {
      assert.ok(CheckpointError.isInstance(error), `expected CheckpointError, got ${String(error)}`);
      assert.equal(error.file, path);
      if (tensor) assert.equal(error.tensor, tensor);
      assert.match(error.message, pattern);
      assert.ok(error.message.includes(path), 'the message names the file');
      return true;
    },
  );
}

test('round trip: f32, bf16 and f16 tensors, with conversion on read', () => {
  const path = join(dir, 'roundtrip.safetensors');
  const values = Float32Array.from([1, -2.5, 3.140625, 0.1]);
  const bf16 = Uint16Array.from(values, f32ToBf16);
  // f16 bit patterns for 1, -2, 0.5, 65504.
  const f16 = Uint16Array.from([0x3c00, 0xc000, 0x3800, 0x7bff]);
  writeSafetensors(path, { a: { dtype: 'f32', shape: [2, 2], data: values }, b: { dtype: 'bf16', shape: [4], data: bf16 }, c: { dtype: 'f16', shape: [4], data: f16 } });
  const file = SafetensorsFile.open(path);
  assert.equal(file.metadata.format, 'pt');
  assert.deepEqual(file.read('a').data, values);
  assert.deepEqual(file.read('a', 'bf16').data, bf16);
  assert.deepEqual(Array.from(file.read('b', 'f32').data), Array.from(bf16, bf16ToF32));
  assert.deepEqual(Array.from(file.read('c', 'f32').data), [1, -2, 0.5, 65504]);
  assert.deepEqual(file.read('c', 'bf16').data, Uint16Array.from([1, -2, 0.5, 65504], f32ToBf16));
  file.close();
  const header = readFileSync(path);
  assert.equal(Number(header.readBigUInt64LE(0)) % 8, 0, 'the header is padded to an 8-byte boundary');
});

test('header length past the end of the file', () => {
  const path = rawFile('long-header.safetensors', { a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4), 10_000n);
  expectCheckpointError(path, /header length 10000 runs past the end of the file/);
});

test('a file shorter than the header length field', () => {
  const path = join(dir, 'tiny.safetensors');
  writeFileSync(path, Buffer.from([1, 2, 3]));
  expectCheckpointError(path, /too short/);
});

test('a header that is not JSON', () => {
  const bytes = Buffer.from('{not json');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(bytes.length));
  const path = join(dir, 'not-json.safetensors');
  writeFileSync(path, Buffer.concat([length, bytes]));
  expectCheckpointError(path, /header is not valid JSON/);
});

test('offsets out of range (a truncated file)', () => {
  const path = rawFile('truncated.safetensors', { w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, new Uint8Array(8));
  expectCheckpointError(path, /out of range: the data section has 8 bytes/, 'w');
});

test('overlapping offsets', () => {
  const path = rawFile(
    'overlap.safetensors',
    { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } },
    new Uint8Array(12),
  );
  expectCheckpointError(path, /overlap those of "a"/, 'b');
});

test('unknown dtype', () => {
  const path = rawFile('dtype.safetensors', { a: { dtype: 'F8_E4M3', shape: [2], data_offsets: [0, 2] } }, new Uint8Array(2));
  expectCheckpointError(path, /unsupported dtype "F8_E4M3"/, 'a');
});

test('shape that does not match the byte length', () => {
  const path = rawFile('shape.safetensors', { a: { dtype: 'F32', shape: [3, 2], data_offsets: [0, 16] } }, new Uint8Array(16));
  expectCheckpointError(path, /shape \[3, 2\] with dtype F32 needs 24 bytes but data_offsets span 16/, 'a');
});

test('malformed entries: negative shape, missing offsets', () => {
  expectCheckpointError(rawFile('neg.safetensors', { a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)), /"shape" must be/, 'a');
  expectCheckpointError(rawFile('nooff.safetensors', { a: { dtype: 'F32', shape: [1] } }, new Uint8Array(4)), /"data_offsets" must be/, 'a');
});

test('a missing file and a missing tensor are named', () => {
  expectCheckpointError(join(dir, 'absent.safetensors'), /cannot open/);
  const path = join(dir, 'one.safetensors');
  writeSafetensors(path, { a: { dtype: 'f32', shape: [1], data: new Float32Array(1) } });
  const file = SafetensorsFile.open(path);
  assert.throws(() => file.read('b'), (e: unknown) => CheckpointError.isInstance(e) && e.tensor === 'b' && e.message.includes(path));
  file.close();
});

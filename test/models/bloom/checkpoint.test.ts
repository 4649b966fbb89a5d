import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { f32ArrayToBf16 } from '../../../src/engine/dtype.js';
import { TypeScriptBackend } from '../../../src/engine/backends/typescript.js';
import type { Tensor } from '../../../src/engine/tensor.js';
import { CheckpointError } from '../../../src/errors.js';
import { SafetensorsFile, writeSafetensors } from '../../../src/formats/safetensors.js';
import { BloomModel } from '../../../src/models/bloom/model.js';
import { loadReference, maxAbsDiff } from '../../helpers/reference.js';

const ref = loadReference('a');
const backend = new TypeScriptBackend();
const scratch = mkdtempSync(join(tmpdir(), 'tuneloop-ckpt-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const ids = ref.ints('input_ids');
const mask = Uint8Array.from(ref.ints('attention_mask'));

function fixtureTensors(): Map<string, Tensor> {
  const file = SafetensorsFile.open(join(ref.checkpointDir, 'model.safetensors'));
  const tensors = new Map([...file.entries.keys()].map((name) => [name, file.read(name)]));
  file.close();
  return tensors;
}

/** A checkpoint directory holding the fixture's config and the given tensor files. */
function checkpointDir(files: Record<string, Map<string, Tensor>>, extra: Record<string, unknown> = {}): string {
  const dir = mkdtempSync(join(scratch, 'case-'));
  copyFileSync(join(ref.checkpointDir, 'config.json'), join(dir, 'config.json'));
  for (const [name, tensors] of Object.entries(files)) writeSafetensors(join(dir, name), tensors);
  for (const [name, json] of Object.entries(extra)) writeFileSync(join(dir, name), JSON.stringify(json));
  return dir;
}

function logitsOf(dir: string, dtype: 'f32' | 'bf16' = 'f32'): Float32Array {
  const model = BloomModel.load(dir, { backend, dtype });
  return model.logits(model.forward({ ids, batch: 3, mask }).hidden, 36);
}

test('names without the transformer. prefix (original bigscience checkpoints)', () => {
  const renamed = new Map([...fixtureTensors()].map(([name, t]) => [name.replace(/^transformer\./, ''), t]));
  assert.ok(maxAbsDiff(logitsOf(checkpointDir({ 'model.safetensors': renamed })), ref.f32('logits')) < 1e-4);
});

test('sharded checkpoint with model.safetensors.index.json', () => {
  const all = [...fixtureTensors()];
  const first = new Map(all.slice(0, 10));
  const second = new Map(all.slice(10));
  const weightMap = Object.fromEntries([...first.keys()].map((k) => [k, 'model-00001-of-00002.safetensors']).concat([...second.keys()].map((k) => [k, 'model-00002-of-00002.safetensors'])));
  const dir = checkpointDir(
    { 'model-00001-of-00002.safetensors': first, 'model-00002-of-00002.safetensors': second },
    { 'model.safetensors.index.json': { metadata: { total_size: 0 }, weight_map: weightMap } },
  );
  assert.ok(maxAbsDiff(logitsOf(dir), ref.f32('logits')) < 1e-4);
});

test('a shard index that points at the wrong shard names the shard and tensor', () => {
  const all = fixtureTensors();
  const weightMap = Object.fromEntries([...all.keys()].map((k) => [k, 'model-00001-of-00002.safetensors']));
  weightMap['transformer.ln_f.bias'] = 'model-00002-of-00002.safetensors';
  const dir = checkpointDir(
    { 'model-00001-of-00002.safetensors': all, 'model-00002-of-00002.safetensors': new Map() },
    { 'model.safetensors.index.json': { weight_map: weightMap } },
  );
  assert.throws(() => logitsOf(dir), (e: unknown) => CheckpointError.isInstance(e) && e.tensor === 'transformer.ln_f.bias' && e.file.endsWith('model-00002-of-00002.safetensors'));
});

test('bf16-stored weights load at fp32 and bf16 compute', () => {
  const halved = new Map([...fixtureTensors()].map(([name, t]) => [name, { dtype: 'bf16', shape: t.shape, data: f32ArrayToBf16(t.data as Float32Array) } as Tensor]));
  const dir = checkpointDir({ 'model.safetensors': halved });
  assert.ok(maxAbsDiff(logitsOf(dir, 'f32'), ref.f32('logits')) < 0.15);
  assert.ok(maxAbsDiff(logitsOf(dir, 'bf16'), logitsOf(dir, 'f32')) < 0.15);
});

test('a missing tensor is named with its file', () => {
  const tensors = fixtureTensors();
  tensors.delete('transformer.h.1.mlp.dense_4h_to_h.weight');
  const dir = checkpointDir({ 'model.safetensors': tensors });
  assert.throws(() => logitsOf(dir), (e: unknown) => CheckpointError.isInstance(e) && e.tensor === 'h.1.mlp.dense_4h_to_h.weight' && /missing/.test(e.message));
});

test('a tensor shape that disagrees with config.json is named', () => {
  const tensors = fixtureTensors();
  tensors.set('transformer.h.0.self_attention.dense.weight', { dtype: 'f32', shape: [64, 32], data: new Float32Array(64 * 32) });
  const dir = checkpointDir({ 'model.safetensors': tensors });
  assert.throws(
    () => logitsOf(dir),
    (e: unknown) => CheckpointError.isInstance(e) && e.tensor === 'transformer.h.0.self_attention.dense.weight' && /\[64, 32\] does not match \[64, 64\]/.test(e.message),
  );
});

test('a directory with no weights says what it looked for', () => {
  const dir = mkdtempSync(join(scratch, 'empty-'));
  copyFileSync(join(ref.checkpointDir, 'config.json'), join(dir, 'config.json'));
  assert.throws(() => logitsOf(dir), (e: unknown) => CheckpointError.isInstance(e) && /no model.safetensors/.test(e.message));
});

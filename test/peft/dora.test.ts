/**
 * DoRA (peft's use_dora) against peft itself: test/fixtures/peft/dora holds what peft 0.13.2 computed
 * (scripts/reference/dora_reference.py) for a DoRA adapter on query_key_value, dense and dense_4h_to_h
 * with randomised A, B and magnitude.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { TypeScriptBackend } from '../../src/engine/backends/typescript.js';
import type { Tensor } from '../../src/engine/tensor.js';
import { AdapterError } from '../../src/errors.js';
import { SafetensorsFile, writeSafetensors } from '../../src/formats/safetensors.js';
import { SeededRandom } from '../../src/inference/sampling.js';
import { BloomModel } from '../../src/models/bloom/model.js';
import { mergeLoraIntoCheckpoint } from '../../src/peft/lora/merge-checkpoint.js';
import { LoraModel, createLoraAdapter, readLoraAdapter } from '../../src/peft/lora/model.js';
import { type TrainingBatch, forwardBackward } from '../../src/train/bloom-backward.js';
import { AdamW } from '../../src/train/optimizer.js';
import { trainableParameters } from '../../src/train/trainable-parameters.js';
import { backendCases } from '../helpers/backends.js';
import { repoRoot } from '../helpers/paths.js';
import { relativeDiff } from '../helpers/numeric.js';
import { loadReference, maxAbsDiff } from '../helpers/reference.js';

const TOLERANCE = 1e-4;
const doraDir = join(repoRoot, 'test', 'fixtures', 'peft', 'dora');
const cases = await backendCases();
const scratch = mkdtempSync(join(tmpdir(), 'tuneloop-dora-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

interface DoraReference {
  readonly dir: string;
  readonly adapterDir: string;
  readonly values: { train_loss: number; peft_version: string };
  f32(name: string): Float32Array;
}

function loadDoraReference(which: 'a' | 'b'): DoraReference {
  const dir = join(doraDir, `ref_${which}`);
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { arrays: Record<string, { file: string }>; values: DoraReference['values'] };
  return {
    dir,
    adapterDir: join(dir, 'dora_adapter'),
    values: manifest.values,
    f32: (name) => {
      const bytes = readFileSync(join(dir, manifest.arrays[name].file));
      return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    },
  };
}

function readTensors(file: string): Map<string, Tensor> {
  const st = SafetensorsFile.open(file);
  try {
    return new Map([...st.entries.keys()].map((name) => [name, st.read(name, 'f32')]));
  } finally {
    st.close();
  }
}

function readAll(file: string): Map<string, Float32Array> {
  return new Map([...readTensors(file)].map(([name, tensor]) => [name, tensor.data as Float32Array]));
}

for (const which of ['a', 'b'] as const) {
  const ref = loadReference(which);
  const dora = loadDoraReference(which);
  const ids = ref.ints('input_ids');
  const mask = Uint8Array.from(ref.ints('attention_mask'));
  const [batch, seq] = ref.shape('input_ids');
  const trainBatch: TrainingBatch = { ids, mask, labels: ref.ints('train_labels'), batch };

  test(`fixture ${which}: the reference was computed by a peft with DoRA`, () => {
    assert.equal(dora.values.peft_version, '0.13.2');
  });

  for (const { name, backend, skipReason } of cases) {
    describe(`fixture ${which}, ${name} backend: DoRA equals peft`, { skip: skipReason }, () => {
      const load = () => BloomModel.load(ref.checkpointDir, { backend: backend!, dtype: 'f32' });
      const logitsOf = (model: BloomModel) => model.logits(model.forward({ ids, batch, mask }).hidden, batch * seq);

      test('logits, merged logits, and unmerge back to the adapter', () => {
        const model = load();
        const baseLogits = logitsOf(model);
        const lora = new LoraModel(model);
        lora.add(readLoraAdapter(dora.adapterDir, model.config));
        const expected = dora.f32('dora_logits');
        assert.ok(maxAbsDiff(baseLogits, expected) > 0.1, 'the adapter changes the logits');
        const diff = maxAbsDiff(logitsOf(model), expected);
        assert.ok(diff < TOLERANCE, `logits differ by ${diff}`);
        lora.merge();
        const mergedDiff = maxAbsDiff(logitsOf(model), dora.f32('dora_merged_logits'));
        assert.ok(mergedDiff < TOLERANCE, `merged logits differ by ${mergedDiff}`);
        lora.unmerge();
        assert.ok(maxAbsDiff(logitsOf(model), expected) < TOLERANCE);
      });

      test('loss and gradients of A, B and the magnitude equal PyTorch autograd', () => {
        const model = load();
        const result = forwardBackward(model, trainBatch, { lora: readLoraAdapter(dora.adapterDir, model.config) });
        assert.ok(Math.abs(result.loss - dora.values.train_loss) < 1e-5, `loss ${result.loss} vs ${dora.values.train_loss}`);
        const expected = readAll(join(dora.dir, 'dora_grads.safetensors'));
        assert.deepEqual([...result.grads.keys()].sort(), [...expected.keys()].sort());
        assert.ok([...expected.keys()].some((key) => key.endsWith('.lora_magnitude_vector')));
        for (const [key, grad] of expected) {
          const diff = relativeDiff(result.grads.get(key)!, grad);
          assert.ok(diff < 1e-4, `${key}: relative difference ${diff}`);
        }
      });

      test('a fresh DoRA adapter starts with the magnitude peft initialises (the row norms of W)', () => {
        const model = load();
        const random = new SeededRandom(1);
        const config = { r: 4, loraAlpha: 8, loraDropout: 0, targetModules: ['query_key_value', 'dense', 'dense_4h_to_h'], useRslora: false, useDora: true };
        const adapter = createLoraAdapter(model.config, config, 'default', () => random.next(), { baseModel: model });
        const expected = readAll(join(dora.dir, 'init_magnitude.safetensors'));
        const actual = adapter.tensors();
        for (const [key, magnitude] of expected) {
          const diff = relativeDiff(actual.get(key)!.data as Float32Array, magnitude);
          assert.ok(diff < 1e-6, `${key}: relative difference ${diff}`);
        }
        // B = 0 and m = ‖W‖: the fresh adapter leaves the model's output unchanged.
        const baseLogits = logitsOf(model);
        new LoraModel(model).add(adapter);
        assert.ok(maxAbsDiff(logitsOf(model), baseLogits) < 1e-5);
      });
    });
  }

  test(`fixture ${which}: one AdamW step moves A, B and the magnitude as PyTorch's AdamW`, () => {
    const backend = new TypeScriptBackend();
    const model = BloomModel.load(ref.checkpointDir, { backend, dtype: 'f32' });
    const lora = readLoraAdapter(dora.adapterDir, model.config);
    const { grads } = forwardBackward(model, trainBatch, { lora });
    new AdamW(backend, trainableParameters({ lora }), { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 }).update(grads);
    const expected = readAll(join(dora.dir, 'dora_after_adamw_step.safetensors'));
    const actual = lora.tensors();
    assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort());
    for (const [key, values] of expected) {
      const diff = maxAbsDiff(actual.get(key)!.data as Float32Array, values);
      assert.ok(diff < 1e-5, `${key}: ${diff}`);
    }
  });

  test(`fixture ${which}: the adapter written back keeps peft's config, tensor names and values`, () => {
    const model = BloomModel.load(ref.checkpointDir, { backend: new TypeScriptBackend(), dtype: 'f32' });
    const out = join(scratch, `${which}-roundtrip`);
    readLoraAdapter(dora.adapterDir, model.config).save(out, 'unused');
    assert.deepEqual(JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8')), JSON.parse(readFileSync(join(dora.adapterDir, 'adapter_config.json'), 'utf8')));
    const written = readAll(join(out, 'adapter_model.safetensors'));
    const original = readAll(join(dora.adapterDir, 'adapter_model.safetensors'));
    assert.deepEqual([...written.keys()].sort(), [...original.keys()].sort());
    for (const [key, values] of original) assert.deepEqual(written.get(key), values, key);
  });
}

test('merging into a checkpoint gives the weights peft merge_and_unload gives', () => {
  const ref = loadReference('a');
  const dora = loadDoraReference('a');
  const out = join(scratch, 'merged-a');
  const { mergedTensors } = mergeLoraIntoCheckpoint(ref.checkpointDir, dora.adapterDir, out);
  const expected = readAll(join(dora.dir, 'dora_merged_weights.safetensors'));
  assert.equal(mergedTensors, expected.size);
  const merged = readAll(join(out, 'model.safetensors'));
  for (const [key, values] of expected) {
    const diff = maxAbsDiff(merged.get(key)!, values);
    assert.ok(diff < 1e-6, `${key}: ${diff}`);
  }
});

test('a DoRA adapter created by tuneloop saves in peft layout (use_dora, lora_magnitude_vector) and reads back the same', () => {
  const ref = loadReference('a');
  const model = BloomModel.load(ref.checkpointDir, { backend: new TypeScriptBackend(), dtype: 'f32' });
  const random = new SeededRandom(2);
  const config = { r: 2, loraAlpha: 4, loraDropout: 0, targetModules: ['dense'], useRslora: false, useDora: true };
  const adapter = createLoraAdapter(model.config, config, 'default', () => random.next(), { baseModel: model });
  const out = join(scratch, 'created');
  adapter.save(out, 'ckpt_a');
  const json = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(json.use_dora, true);
  const written = readAll(join(out, 'adapter_model.safetensors'));
  assert.deepEqual([...written.keys()].sort(), [0, 1].flatMap((layer) => ['lora_A.weight', 'lora_B.weight', 'lora_magnitude_vector'].map((t) => `base_model.model.transformer.h.${layer}.self_attention.dense.${t}`)).sort());
  const reread = readLoraAdapter(out, model.config);
  assert.equal(reread.config.useDora, true);
  for (const [key, tensor] of adapter.tensors()) assert.deepEqual(reread.tensors().get(key)!.data, tensor.data, key);
});

test('the magnitude is also read under its in-memory name (`lora_magnitude_vector.weight`)', () => {
  const ref = loadReference('a');
  const dora = loadDoraReference('a');
  const model = BloomModel.load(ref.checkpointDir, { backend: new TypeScriptBackend(), dtype: 'f32' });
  const dir = join(scratch, 'weight-suffix');
  cpSync(dora.adapterDir, dir, { recursive: true });
  const tensors = readTensors(join(dora.adapterDir, 'adapter_model.safetensors'));
  const renamed = new Map([...tensors].map(([key, tensor]) => [key.endsWith('.lora_magnitude_vector') ? `${key}.weight` : key, tensor]));
  writeSafetensors(join(dir, 'adapter_model.safetensors'), renamed, { format: 'pt' });
  const adapter = readLoraAdapter(dir, model.config);
  const original = readLoraAdapter(dora.adapterDir, model.config);
  for (const [key, tensor] of original.tensors()) assert.deepEqual(adapter.tensors().get(key)!.data, tensor.data, key);
});

test('a magnitude without use_dora, and use_dora without a magnitude, are refused naming the tensor', () => {
  const ref = loadReference('a');
  const dora = loadDoraReference('a');
  const model = BloomModel.load(ref.checkpointDir, { backend: new TypeScriptBackend(), dtype: 'f32' });
  const noFlag = join(scratch, 'no-flag');
  cpSync(dora.adapterDir, noFlag, { recursive: true });
  const config = JSON.parse(readFileSync(join(dora.adapterDir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(noFlag, 'adapter_config.json'), JSON.stringify({ ...config, use_dora: false }));
  assert.throws(() => readLoraAdapter(noFlag, model.config), (error: unknown) => error instanceof AdapterError && /lora_magnitude_vector/.test(error.message) && /use_dora/.test(error.message));
  const noMagnitude = join(scratch, 'no-magnitude');
  cpSync(dora.adapterDir, noMagnitude, { recursive: true });
  const kept = new Map([...readTensors(join(dora.adapterDir, 'adapter_model.safetensors'))].filter(([key]) => !key.endsWith('.lora_magnitude_vector')));
  writeSafetensors(join(noMagnitude, 'adapter_model.safetensors'), kept, { format: 'pt' });
  assert.throws(() => readLoraAdapter(noMagnitude, model.config), (error: unknown) => error instanceof AdapterError && /lora_magnitude_vector/.test(error.message) && /use_dora/.test(error.message));
});

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { AdapterError, InvalidInputError } from '../../../src/errors.js';
import { SafetensorsFile } from '../../../src/formats/safetensors.js';
import { readBloomConfig } from '../../../src/models/bloom/config.js';
import { BloomModel } from '../../../src/models/bloom/model.js';
import { TypeScriptBackend } from '../../../src/engine/backends/typescript.js';
import { applyAdapter } from '../../../src/peft/apply-adapter.js';
import { selectTensors } from '../../../src/peft/selective/config.js';
import { SelectiveTuning } from '../../../src/peft/selective/model.js';
import { backendCases } from '../../helpers/backends.js';
import { loadReference, maxAbsDiff } from '../../helpers/reference.js';

const scratch = mkdtempSync(join(tmpdir(), 'tuneloop-selective-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const refA = loadReference('a');
const refB = loadReference('b');
const ids = refA.ints('input_ids');
const mask = Uint8Array.from(refA.ints('attention_mask'));
const [batch, seq] = refA.shape('input_ids');

describe('which tensors each selective method trains', () => {
  const config = readBloomConfig(join(refA.checkpointDir, 'config.json'));
  const layers = config.numLayers;

  test('bias tuning: the four block-linear biases of every layer', () => {
    const names = selectTensors(config, { kind: 'bias' });
    assert.equal(names.length, 4 * layers);
    assert.ok(names.every((n) => /^transformer\.h\.\d+\.(self_attention|mlp)\.\w+\.bias$/.test(n)));
  });

  test("LN tuning: peft's bloom targets by default, others by name", () => {
    const names = selectTensors(config, { kind: 'layernorm' });
    assert.equal(names.length, 2 * (2 * layers + 1));
    assert.ok(!names.some((n) => n.includes('word_embeddings_layernorm')));
    assert.deepEqual(selectTensors(config, { kind: 'layernorm', targetModules: ['word_embeddings_layernorm', 'ln_f'] }), [
      'transformer.word_embeddings_layernorm.weight', 'transformer.word_embeddings_layernorm.bias', 'transformer.ln_f.weight', 'transformer.ln_f.bias',
    ]);
    assert.throws(() => selectTensors(config, { kind: 'layernorm', targetModules: ['final_norm'] }), (e) => InvalidInputError.isInstance(e) && /final_norm/.test(e.message));
  });

  test('named tensors: regular expressions over checkpoint names, checked', () => {
    assert.deepEqual(selectTensors(config, { kind: 'named', patterns: ['h\\.0\\.mlp\\.dense_4h_to_h\\.(weight|bias)'] }), [
      'transformer.h.0.mlp.dense_4h_to_h.weight', 'transformer.h.0.mlp.dense_4h_to_h.bias',
    ]);
    assert.throws(() => selectTensors(config, { kind: 'named', patterns: ['h\\.99\\..*'] }), /matches no tensor/);
    assert.throws(() => selectTensors(config, { kind: 'named', patterns: ['word_embeddings\\.weight'] }), /ties to the lm_head/);
    assert.throws(() => selectTensors(config, { kind: 'named', patterns: ['h.(0'] }), /not a valid regular expression/);
  });
});

for (const { name, backend, skipReason } of await backendCases()) {
  describe(`${name} backend: selective tuning saves, loads and restores`, { skip: skipReason }, () => {
    const load = (dir = refA.checkpointDir) => BloomModel.load(dir, { backend: backend!, dtype: 'f32' });
    const logitsOf = (model: BloomModel) => model.logits(model.forward({ ids, batch, mask }).hidden, batch * seq);
    /** Moves every selected tensor, as training would. */
    const perturb = (tuning: SelectiveTuning) => {
      for (const values of tuning.parameters().values()) for (let i = 0; i < values.length; i++) values[i] += 0.01 * Math.sin(i + values.length);
      tuning.sync();
    };

    test("LN tuning is written in peft's LN_TUNING format and loads back to the same logits", () => {
      const model = load();
      const base = logitsOf(model);
      const tuning = SelectiveTuning.create(model, { kind: 'layernorm' });
      perturb(tuning);
      const tuned = logitsOf(model);
      assert.ok(maxAbsDiff(tuned, base) > 1e-3, 'the perturbation changes the logits');
      const dir = join(scratch, `${name}-ln`);
      tuning.save(dir, 'ckpt_a');
      const config = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
      assert.equal(config.peft_type, 'LN_TUNING');
      assert.deepEqual(config.target_modules, ['input_layernorm', 'post_attention_layernorm', 'ln_f']);
      const file = SafetensorsFile.open(join(dir, 'adapter_model.safetensors'));
      assert.ok(file.entries.has('base_model.model.transformer.h.0.input_layernorm.ln_tuning_layers.weight'));
      assert.ok(file.entries.has('base_model.model.transformer.ln_f.ln_tuning_layers.bias'));
      assert.equal(file.entries.size, 2 * (2 * model.config.numLayers + 1));
      file.close();
      tuning.restore();
      assert.ok(maxAbsDiff(logitsOf(model), base) === 0, 'restore gives back the frozen base exactly');

      const fresh = load();
      applyAdapter(fresh, dir);
      assert.ok(maxAbsDiff(logitsOf(fresh), tuned) < 1e-6);
    });

    test('named tensors, linear weights included, round-trip through tuneloop files', () => {
      const model = load();
      const tuning = SelectiveTuning.create(model, { kind: 'named', patterns: ['h\\.1\\.self_attention\\.dense\\.weight', 'h\\.\\d+\\.mlp\\.dense_h_to_4h\\.bias'] });
      perturb(tuning);
      const tuned = logitsOf(model);
      const dir = join(scratch, `${name}-named`);
      tuning.save(dir, 'ckpt_a');
      assert.ok(existsSync(join(dir, 'selective_tuning.json')) && !existsSync(join(dir, 'adapter_config.json')));
      const fresh = load();
      applyAdapter(fresh, dir);
      assert.ok(maxAbsDiff(logitsOf(fresh), tuned) < 1e-6);
    });

    test('an adapter made for another base model is refused, naming the tensor', () => {
      const model = load();
      const dir = join(scratch, `${name}-ln-a`);
      SelectiveTuning.create(model, { kind: 'layernorm' }).save(dir, 'ckpt_a');
      // ckpt_b is 96 wide where ckpt_a is 64.
      assert.throws(() => applyAdapter(load(refB.checkpointDir), dir), (e) => AdapterError.isInstance(e) && /^base_model\.model\.transformer\.h\.0\.input_layernorm\.ln_tuning_layers\.(weight|bias)$/.test(e.tensor ?? '') && /another base model/.test(e.message));
    });
  });
}

test('a weight quantised to NF4 cannot be tuned selectively; its bias can', () => {
  const model = BloomModel.load(refA.checkpointDir, { backend: new TypeScriptBackend(), dtype: 'f32', quantization: 'nf4' });
  assert.throws(() => SelectiveTuning.create(model, { kind: 'named', patterns: ['h\\.0\\.mlp\\.dense_h_to_4h\\.weight'] }), (e) => InvalidInputError.isInstance(e) && /quantised/.test(e.message));
  assert.equal(SelectiveTuning.create(model, { kind: 'bias' }).names.size, 4 * model.config.numLayers);
});

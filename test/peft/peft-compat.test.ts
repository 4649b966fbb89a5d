import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { AdapterError } from '../../src/errors.js';
import { SafetensorsFile, writeSafetensors } from '../../src/formats/safetensors.js';
import { BloomModel } from '../../src/models/bloom/model.js';
import { applyAdapter } from '../../src/peft/apply-adapter.js';
import { mergeLoraIntoCheckpoint } from '../../src/peft/lora/merge-checkpoint.js';
import { LoraModel, readLoraAdapter } from '../../src/peft/lora/model.js';
import { initialReplacements } from '../../src/peft/lora/modules-to-save.js';
import { type TrainingBatch, forwardBackward } from '../../src/train/bloom-backward.js';
import { trainableParameters } from '../../src/train/trainable-parameters.js';
import { backendCases } from '../helpers/backends.js';
import { repoRoot } from '../helpers/paths.js';
import { loadReference, maxAbsDiff } from '../helpers/reference.js';

const TOLERANCE = 1e-4;
const cases = await backendCases();
const typescript = cases[0].backend!;
const scratch = mkdtempSync(join(tmpdir(), 'tuneloop-peft-compat-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const ref = loadReference('a');
const ids = ref.ints('input_ids');
const mask = Uint8Array.from(ref.ints('attention_mask'));
const labels = ref.ints('train_labels');
const [batch, seq] = ref.shape('input_ids');
const fixtureLora = join(ref.checkpointDir, '..', 'ref_a', 'lora_adapter');
const fixturePrompt = join(ref.checkpointDir, '..', 'ref_a', 'prompt_tuning_adapter');
const configsDir = join(repoRoot, 'test', 'fixtures', 'peft', 'configs');
const modulesToSaveDir = join(repoRoot, 'test', 'fixtures', 'peft', 'modules_to_save');
const PEFT_VERSIONS = ['0.7.1', '0.8.2', '0.9.0', '0.10.0', '0.11.1', '0.12.0', '0.13.2', '0.14.0', '0.15.2', '0.16.0', '0.17.1'];

const load = (backend = typescript) => BloomModel.load(ref.checkpointDir, { backend, dtype: 'f32' });
const logitsOf = (model: BloomModel) => model.logits(model.forward({ ids, batch, mask }).hidden, batch * seq);
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

/** A copy of an adapter directory with adapter_config.json replaced by `config`. */
function adapterWithConfig(source: string, config: Record<string, unknown>, name: string): string {
  const dir = join(scratch, name);
  cpSync(source, dir, { recursive: true });
  writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify(config));
  return dir;
}

function readReference(dir: string): Map<string, Float32Array> {
  const file = SafetensorsFile.open(join(dir, 'reference.safetensors'));
  try {
    return new Map([...file.entries.keys()].map((name) => [name, file.read(name, 'f32').data as Float32Array]));
  } finally {
    file.close();
  }
}

/**
 * Logits within 1e-4 of peft's, relative to their largest magnitude once that exceeds 1: the
 * random lm_head replacement gives logits up to ~19, where float32 rounding alone reaches ~4e-4.
 */
function assertLogitsClose(actual: Float32Array, expected: Float32Array, what: string): void {
  let scale = 1;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  const diff = maxAbsDiff(actual, expected);
  assert.ok(diff <= TOLERANCE * scale, `${what}: differs by ${diff} (largest logit ${scale})`);
}

const isFieldError = (field: string, text?: string) => (e: unknown) => AdapterError.isInstance(e) && e.message.includes(`field "${field}"`) && (text === undefined || e.message.includes(text));

test('the configs peft 0.7.1 to 0.17.1 write are all in the fixtures', () => {
  assert.deepEqual(readdirSync(configsDir).sort(), [...PEFT_VERSIONS].sort());
});

describe('adapter_config.json as each peft release writes it loads and computes what peft computes', () => {
  const expected = ref.f32('lora_logits');
  for (const version of PEFT_VERSIONS) {
    test(`peft ${version}: LoRA, prompt tuning${Number(version.split('.')[1]) >= 11 ? ', LN tuning' : ''}`, () => {
      const lora = { ...readJson(join(configsDir, version, 'lora', 'adapter_config.json')), r: 4 };
      const model = load();
      applyAdapter(model, adapterWithConfig(fixtureLora, lora, `lora-${version}`));
      assert.ok(maxAbsDiff(logitsOf(model), expected) < TOLERANCE);

      const prompt = { ...readJson(join(configsDir, version, 'prompt_tuning', 'adapter_config.json')), num_virtual_tokens: 8 };
      applyAdapter(load(), adapterWithConfig(fixturePrompt, prompt, `prompt-${version}`));

      if (Number(version.split('.')[1]) >= 11) {
        // LN tuning holding the base's own ln_f: it loads, and the model is unchanged.
        const base = load();
        const before = logitsOf(base);
        const dir = join(scratch, `ln-${version}`);
        cpSync(fixtureLora, dir, { recursive: true });
        writeFileSync(join(dir, 'adapter_config.json'), readFileSync(join(configsDir, version, 'ln_tuning', 'adapter_config.json')));
        const tensors = new Map([['base_model.model.transformer.ln_f.ln_tuning_layers.weight', { dtype: 'f32' as const, shape: [64], data: Float32Array.from(base.weights.lnF.weight) }]]);
        writeSafetensors(join(dir, 'adapter_model.safetensors'), tensors, { format: 'pt' });
        applyAdapter(base, dir);
        assert.equal(maxAbsDiff(logitsOf(base), before), 0);
      }
    });
  }
});

describe('every LoRA field that changes the math is refused by name unless implemented', () => {
  const base = readJson(join(configsDir, '0.17.1', 'lora', 'adapter_config.json'));
  const refused: [string, unknown, string][] = [
    ['lora_bias', true, '0.14'],
    ['layer_replication', [[0, 2]], '0.10'],
    ['trainable_token_indices', [1, 2, 3], '0.15'],
    ['use_qalora', true, '0.16'],
    ['target_parameters', ['transformer.h.0.mlp.dense_h_to_4h.weight'], '0.17'],
    ['rank_pattern', { query_key_value: 8 }, '0.7'],
    ['alpha_pattern', { query_key_value: 32 }, '0.7'],
    ['bias', 'lora_only', '0.7'],
    ['fan_in_fan_out', true, '0.7'],
  ];
  for (const [field, value, since] of refused) {
    test(`${field}: ${JSON.stringify(value)} is refused, naming peft ${since}`, () => {
      const dir = adapterWithConfig(fixtureLora, { ...base, r: 4, [field]: value }, `refused-${field}`);
      assert.throws(() => readLoraAdapter(dir, load().config), isFieldError(field, `peft ${since}`));
    });
  }
  for (const [init, name] of [['pissa', 'PiSSA'], ['pissa_niter_4', 'PiSSA'], ['olora', 'OLoRA'], ['corda', 'CorDA'], ['loftq', 'LoftQ']] as const) {
    test(`init_lora_weights "${init}" (the base weights were rewritten) is refused`, () => {
      const dir = adapterWithConfig(fixtureLora, { ...base, r: 4, init_lora_weights: init }, `init-${init}`);
      assert.throws(() => readLoraAdapter(dir, load().config), isFieldError('init_lora_weights', name));
    });
  }
  test('init_lora_weights that leave the base alone (gaussian, eva, orthogonal, false) load', () => {
    for (const init of ['gaussian', 'eva', 'orthogonal', false]) {
      readLoraAdapter(adapterWithConfig(fixtureLora, { ...base, r: 4, init_lora_weights: init }, `init-ok-${String(init)}`), load().config);
    }
  });
  test('use_dora is parsed, not refused by the config parser', async () => {
    const { parseLoraConfig } = await import('../../src/peft/lora/config.js');
    assert.equal(parseLoraConfig({ dir: fixtureLora, config: { ...base, r: 4, use_dora: true } }).useDora, true);
    assert.equal(parseLoraConfig({ dir: fixtureLora, config: { ...base, r: 4 } }).useDora, false);
  });
  test('a field no peft release up to 0.17 writes is refused when set, accepted when inert', () => {
    const config = load().config;
    assert.throws(() => readLoraAdapter(adapterWithConfig(fixtureLora, { ...base, r: 4, lora_ga_config: { iters: 2 } }, 'future-set'), config), isFieldError('lora_ga_config', 'newer peft'));
    readLoraAdapter(adapterWithConfig(fixtureLora, { ...base, r: 4, lora_ga_config: null, use_future_thing: false }, 'future-inert'), config);
  });
  test('layers_pattern other than BLOOM\'s "h" is refused', () => {
    assert.throws(() => readLoraAdapter(adapterWithConfig(fixtureLora, { ...base, r: 4, layers_to_transform: [0, 1], layers_pattern: 'layers' }, 'pattern'), load().config), isFieldError('layers_pattern'));
  });
  test('layers_to_transform and exclude_modules choose the targeted modules, and tensors outside them are refused', async () => {
    const config = load().config;
    const adapter = readLoraAdapter(adapterWithConfig(fixtureLora, { ...base, r: 4, layers_to_transform: [0, 1], layers_pattern: 'h' }, 'layers-all'), config);
    assert.equal(adapter.layers.size, 2);
    for (const [patch, name] of [
      [{ layers_to_transform: 0 }, 'layers-0'],
      [{ exclude_modules: ['h.1.self_attention.query_key_value'] }, 'exclude-list'],
      [{ exclude_modules: '.*\\.1\\..*' }, 'exclude-regex'],
    ] as const) {
      const dir = adapterWithConfig(fixtureLora, { ...base, r: 4, ...patch }, name);
      assert.throws(() => readLoraAdapter(dir, config), (e: unknown) => AdapterError.isInstance(e) && e.message.includes('h.1.self_attention.query_key_value.lora_'), name);
    }
    const { targetsModule, parseLoraConfig } = await import('../../src/peft/lora/config.js');
    const parsed = parseLoraConfig({ dir: fixtureLora, config: { ...base, r: 4, target_modules: ['query_key_value', 'dense'], exclude_modules: ['dense'], layers_to_transform: [1] } });
    assert.deepEqual([targetsModule(parsed, 0, 'query_key_value'), targetsModule(parsed, 1, 'query_key_value'), targetsModule(parsed, 1, 'dense')], [false, true, false]);
  });
  test('prompt tuning and LN tuning refuse modules_to_save and unknown set fields', () => {
    const prompt = readJson(join(configsDir, '0.17.1', 'prompt_tuning', 'adapter_config.json'));
    assert.throws(() => applyAdapter(load(), adapterWithConfig(fixturePrompt, { ...prompt, num_virtual_tokens: 8, modules_to_save: ['lm_head'] }, 'pt-mts')), isFieldError('modules_to_save', 'peft 0.17'));
    assert.throws(() => applyAdapter(load(), adapterWithConfig(fixturePrompt, { ...prompt, num_virtual_tokens: 8, prefix_projection: true }, 'pt-unknown')), isFieldError('prefix_projection'));
    const ln = readJson(join(configsDir, '0.17.1', 'ln_tuning', 'adapter_config.json'));
    assert.throws(() => applyAdapter(load(), adapterWithConfig(fixtureLora, { ...ln, modules_to_save: ['lm_head'] }, 'ln-mts')), isFieldError('modules_to_save', 'peft 0.11'));
  });
});

for (const adapterName of ['lm_head', 'embeddings'] as const) {
  const adapterDir = join(modulesToSaveDir, adapterName);
  const reference = readReference(adapterDir);
  const values = readJson(join(adapterDir, 'reference_values.json'));

  for (const { name: backendName, backend, skipReason } of cases) {
    describe(`modules_to_save (${adapterName}), ${backendName} backend, against peft 0.7.1`, { skip: skipReason }, () => {
      test('logits, in-memory merge and unload equal peft; deactivating restores the base model', () => {
        const model = load(backend);
        const baseLogits = logitsOf(model);
        const lora = new LoraModel(model);
        lora.add(readLoraAdapter(adapterDir, model.config));
        assertLogitsClose(logitsOf(model), reference.get('logits')!, 'logits');
        lora.merge();
        assertLogitsClose(logitsOf(model), reference.get('merged_logits')!, 'merged logits');
        lora.unmerge();
        lora.setActive(undefined);
        assert.equal(maxAbsDiff(logitsOf(model), baseLogits), 0);
        lora.setActive('default');
        assertLogitsClose(logitsOf(model), reference.get('logits')!, 'logits after reactivation');
      });

      test('loss and gradients of a training step equal PyTorch autograd, replacement tensors included', () => {
        const model = load(backend);
        const adapter = readLoraAdapter(adapterDir, model.config);
        const step: TrainingBatch = { ids, mask, labels, batch };
        const result = forwardBackward(model, step, { lora: adapter });
        assert.ok(Math.abs(result.loss - (values.train_loss as number)) < 1e-4, `loss ${result.loss}`);
        const expectedNames = [...reference.keys()].filter((k) => k.startsWith('grad.')).map((k) => k.slice(5));
        assert.deepEqual([...result.grads.keys()].sort(), expectedNames.sort());
        assert.deepEqual([...trainableParameters({ lora: adapter }).keys()].sort(), expectedNames.sort());
        for (const name of expectedNames) {
          const expected = reference.get(`grad.${name}`)!;
          const scale = Math.max(...expected.map(Math.abs));
          const diff = maxAbsDiff(result.grads.get(name)!, expected);
          assert.ok(diff / scale < 1e-4, `${name}: relative difference ${diff / scale}`);
        }
      });
    });
  }

  test(`modules_to_save (${adapterName}): the merged checkpoint equals peft's merge_and_unload, untied, and reloads to peft's merged logits`, () => {
    const out = join(scratch, `merged-${adapterName}`);
    mergeLoraIntoCheckpoint(ref.checkpointDir, adapterDir, out);
    assert.equal(readJson(join(out, 'config.json')).tie_word_embeddings, false);
    const merged = SafetensorsFile.open(join(out, 'model.safetensors'));
    try {
      for (const [key, expected] of reference) {
        if (!key.startsWith('merged.')) continue;
        const actual = merged.read(key.slice('merged.'.length), 'f32').data as Float32Array;
        assert.ok(maxAbsDiff(actual, expected) < 1e-5, key);
      }
    } finally {
      merged.close();
    }
    const reloaded = BloomModel.load(out, { backend: typescript, dtype: 'f32' });
    assertLogitsClose(logitsOf(reloaded), reference.get('merged_logits')!, 'reloaded merged logits');
  });
}

test('modules_to_save: the lm_head replacement gradient equals central finite differences of the loss', () => {
  const model = load();
  const adapter = readLoraAdapter(join(modulesToSaveDir, 'lm_head'), model.config);
  const step: TrainingBatch = { ids, mask, labels, batch };
  const grad = forwardBackward(model, step, { lora: adapter }).grads.get('base_model.model.lm_head.weight')!;
  const head = adapter.modulesToSave.get('lm_head.weight')!.data as Float32Array;
  // The largest entries, where the float32 loss's rounding is small against the change a step makes.
  const order = [...grad.keys()].sort((i, j) => Math.abs(grad[j]) - Math.abs(grad[i])).slice(0, 6);
  for (const i of order) {
    const original = head[i];
    const stepSize = 1e-2;
    head[i] = original + stepSize;
    const up = forwardBackward(model, step, { lora: adapter }, { gradients: false }).loss;
    head[i] = original - stepSize;
    const down = forwardBackward(model, step, { lora: adapter }, { gradients: false }).loss;
    head[i] = original;
    const numeric = (up - down) / (2 * stepSize);
    assert.ok(Math.abs(numeric - grad[i]) <= 1e-2 * Math.abs(grad[i]) + 1e-5, `entry ${i}: analytic ${grad[i]}, numeric ${numeric}`);
  }
});

test('modules_to_save for training starts from copies of the base tensors (a tied lm_head from the embeddings) and saves in peft\'s layout', async () => {
  const model = load();
  const replacements = initialReplacements(model, ['lm_head', 'ln_f']);
  assert.deepEqual([...replacements.keys()].sort(), ['lm_head.weight', 'transformer.ln_f.bias', 'transformer.ln_f.weight']);
  const checkpoint = SafetensorsFile.open(join(ref.checkpointDir, 'model.safetensors'));
  const embeddingsName = [...checkpoint.entries.keys()].find((n) => n.endsWith('word_embeddings.weight'))!;
  assert.deepEqual(replacements.get('lm_head.weight')!.data, checkpoint.read(embeddingsName, 'f32').data);
  checkpoint.close();
  const { createLoraAdapter } = await import('../../src/peft/lora/model.js');
  const config = { r: 2, loraAlpha: 4, loraDropout: 0, targetModules: ['query_key_value'], useRslora: false, modulesToSave: ['lm_head', 'ln_f'] };
  assert.throws(() => createLoraAdapter(model.config, config, 'default', Math.random), /modules_to_save/);
  const adapter = createLoraAdapter(model.config, config, 'default', Math.random, { modulesToSave: replacements });
  const out = join(scratch, 'trained-mts');
  adapter.save(out, 'ckpt_a');
  assert.deepEqual(readJson(join(out, 'adapter_config.json')).modules_to_save, ['lm_head', 'ln_f']);
  const saved = SafetensorsFile.open(join(out, 'adapter_model.safetensors'));
  assert.ok(saved.entries.has('base_model.model.lm_head.weight') && saved.entries.has('base_model.model.transformer.ln_f.weight'));
  saved.close();
  // Freshly initialised, the adapter computes the base model: B is zero and the copies equal the base.
  const baseLogits = logitsOf(model);
  new LoraModel(model).add(readLoraAdapter(out, model.config));
  assert.ok(maxAbsDiff(logitsOf(model), baseLogits) < 1e-5);
});

test('modules_to_save naming a block linear, or nothing, or missing its tensors is refused by name', () => {
  const source = join(modulesToSaveDir, 'lm_head');
  const config = readJson(join(source, 'adapter_config.json'));
  const modelConfig = load().config;
  assert.throws(() => readLoraAdapter(adapterWithConfig(source, { ...config, modules_to_save: ['lm_head', 'dense'] }, 'mts-linear'), modelConfig), isFieldError('modules_to_save', 'block linear'));
  assert.throws(() => readLoraAdapter(adapterWithConfig(source, { ...config, modules_to_save: ['lm_head', 'score'] }, 'mts-none'), modelConfig), isFieldError('modules_to_save', 'selects no module'));
  assert.throws(
    () => readLoraAdapter(adapterWithConfig(source, { ...config, modules_to_save: ['lm_head', 'ln_f'] }, 'mts-missing'), modelConfig),
    (e: unknown) => AdapterError.isInstance(e) && e.message.includes('base_model.model.transformer.ln_f.weight') && e.message.includes('missing'),
  );
  // Without modules_to_save in the config, the replacement tensor is not a LoRA tensor: refused, not ignored.
  assert.throws(() => readLoraAdapter(adapterWithConfig(source, { ...config, modules_to_save: null }, 'mts-unlisted'), modelConfig), (e: unknown) => AdapterError.isInstance(e) && e.message.includes('base_model.model.lm_head.weight'));
});

test('the training YAML\'s method.modules_to_save reaches the LoRA method config (default none)', async () => {
  const { parseTrainConfig } = await import('../../src/train/config.js');
  const tasks = [{ name: 'arithmetic', train: 'a.jsonl' }];
  const withModules = parseTrainConfig({ model: 'models/demo', tasks, method: { type: 'lora', modules_to_save: ['lm_head'] } });
  assert.deepEqual(withModules.method.type === 'lora' && withModules.method.modulesToSave, ['lm_head']);
  const plain = parseTrainConfig({ model: 'models/demo', tasks });
  assert.deepEqual(plain.method.type === 'lora' && plain.method.modulesToSave, []);
});

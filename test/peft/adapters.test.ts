import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { AdapterError } from '../../src/errors.js';
import { SafetensorsFile } from '../../src/formats/safetensors.js';
import { generate } from '../../src/inference/generate.js';
import { BloomModel } from '../../src/models/bloom/model.js';
import { LoraModel, readLoraAdapter } from '../../src/peft/lora/model.js';
import { PromptTunedModel, readPromptTuningAdapter } from '../../src/peft/prompt-tuning/model.js';
import { backendCases } from '../helpers/backends.js';
import { loadReference, maxAbsDiff } from '../helpers/reference.js';

const TOLERANCE = 1e-4;
const cases = await backendCases();
const scratch = mkdtempSync(join(tmpdir(), 'tuneloop-peft-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

for (const which of ['a', 'b'] as const) {
  const ref = loadReference(which);
  const ids = ref.ints('input_ids');
  const mask = Uint8Array.from(ref.ints('attention_mask'));
  const [batch, seq] = ref.shape('input_ids');
  const loraDir = join(ref.checkpointDir, '..', `ref_${which}`, 'lora_adapter');
  const promptDir = join(ref.checkpointDir, '..', `ref_${which}`, 'prompt_tuning_adapter');

  for (const { name, backend, skipReason } of cases) {
    describe(`fixture ${which}, ${name} backend: peft adapters`, { skip: skipReason }, () => {
      const load = () => BloomModel.load(ref.checkpointDir, { backend: backend!, dtype: 'f32' });
      const logitsOf = (model: BloomModel) => model.logits(model.forward({ ids, batch, mask }).hidden, batch * seq);

      test('LoRA logits, merged logits and merged weight equal peft, and unmerge restores the base', () => {
        const model = load();
        const baseLogits = logitsOf(model);
        const lora = new LoraModel(model);
        lora.add(readLoraAdapter(loraDir, model.config));
        assert.ok(maxAbsDiff(logitsOf(model), ref.f32('lora_logits')) < TOLERANCE);
        lora.merge();
        assert.ok(maxAbsDiff(logitsOf(model), ref.f32('lora_merged_logits')) < TOLERANCE);
        lora.unmerge();
        assert.ok(maxAbsDiff(logitsOf(model), ref.f32('lora_logits')) < TOLERANCE);
        lora.setActive(undefined);
        assert.equal(maxAbsDiff(logitsOf(model), baseLogits), 0);
      });

      test('prompt-tuning logits equal peft, virtual positions included', () => {
        const base = load();
        const model = new PromptTunedModel(base, readPromptTuningAdapter(promptDir, base.config));
        const { hidden } = model.forwardWithVirtualTokens({ ids, batch, mask });
        const diff = maxAbsDiff(model.logits(hidden, hidden.length / model.config.hiddenSize), ref.f32('pt_logits'));
        assert.ok(diff < TOLERANCE, `differs by ${diff}`);
      });

      test('prompt tuning in generation: cached steps equal full recomputation', () => {
        const base = load();
        const model = new PromptTunedModel(base, readPromptTuningAdapter(promptDir, base.config));
        const prompt = Array.from(ids.subarray(0, seq));
        const { rows } = generate(model, [prompt], { maxNewTokens: 3, strategy: { kind: 'greedy' }, eosTokenId: null });
        // Recompute each step without a cache: the greedy token must be the argmax at the last position.
        const sequence = [...prompt];
        for (const token of rows[0].newTokens) {
          const { hidden } = model.forward({ ids: Int32Array.from(sequence), batch: 1, mask: new Uint8Array(sequence.length).fill(1) });
          const logits = model.logits(hidden.subarray(-model.config.hiddenSize), 1);
          assert.equal(logits.indexOf(Math.max(...logits)), token);
          sequence.push(token);
        }
      });
    });
  }

  test(`fixture ${which}: adapters written back keep peft's config fields, tensor names, shapes and values`, () => {
    const model = BloomModel.load(ref.checkpointDir, { backend: cases[0].backend!, dtype: 'f32' });
    for (const [dir, save] of [
      [loraDir, (out: string) => readLoraAdapter(loraDir, model.config).save(out, 'unused')],
      [promptDir, (out: string) => readPromptTuningAdapter(promptDir, model.config).save(out, { name: 'unused', numLayers: 0, numHeads: 0 })],
    ] as const) {
      const out = join(scratch, `${which}-${dir.split('/').pop()}`);
      save(out);
      assert.deepEqual(JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8')), JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8')));
      const original = SafetensorsFile.open(join(dir, 'adapter_model.safetensors'));
      const written = SafetensorsFile.open(join(out, 'adapter_model.safetensors'));
      assert.deepEqual([...written.entries.keys()].sort(), [...original.entries.keys()].sort());
      assert.deepEqual(written.metadata, { format: 'pt' });
      for (const name of original.entries.keys()) {
        assert.deepEqual(written.entry(name).shape, original.entry(name).shape);
        assert.deepEqual(written.read(name).data, original.read(name).data, name);
      }
      original.close();
      written.close();
    }
  });
}

test('an adapter trained for another base model is refused with the tensor named', () => {
  const b = BloomModel.load(loadReference('b').checkpointDir, { backend: cases[0].backend!, dtype: 'f32' });
  const aLora = join(loadReference('a').checkpointDir, '..', 'ref_a', 'lora_adapter');
  assert.throws(() => readLoraAdapter(aLora, b.config), (e: unknown) => AdapterError.isInstance(e) && /adapter trained for another model/.test(e.message) && e.message.includes('lora_'));
  const aPrompt = join(loadReference('a').checkpointDir, '..', 'ref_a', 'prompt_tuning_adapter');
  assert.throws(() => readPromptTuningAdapter(aPrompt, b.config), (e: unknown) => AdapterError.isInstance(e) && e.message.includes('token_dim'));
});

test('malformed adapter configs name the field', () => {
  const a = loadReference('a');
  const model = BloomModel.load(a.checkpointDir, { backend: cases[0].backend!, dtype: 'f32' });
  const source = join(a.checkpointDir, '..', 'ref_a', 'lora_adapter');
  const badFields: [Record<string, unknown>, string][] = [
    [{ r: 0 }, 'r'],
    [{ target_modules: ['c_attn'] }, 'target_modules'],
    [{ lora_dropout: 2 }, 'lora_dropout'],
    [{ bias: 'all' }, 'bias'],
    [{ peft_type: 'IA3' }, 'peft_type'],
  ];
  for (const [patch, field] of badFields) {
    const dir = join(scratch, `bad-${field}`);
    cpSync(source, dir, { recursive: true });
    const config = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify({ ...config, ...patch }));
    assert.throws(() => readLoraAdapter(dir, model.config), (e: unknown) => AdapterError.isInstance(e) && e.message.includes(`field "${field}"`), field);
  }
});

test('new soft prompts: TEXT repeats the text tokens\' embeddings, RANDOM is standard normal', async () => {
  const { createPromptTuningAdapter } = await import('../../src/peft/prompt-tuning/model.js');
  const model = BloomModel.load(loadReference('a').checkpointDir, { backend: cases[0].backend!, dtype: 'f32' });
  const base = { tokenDim: 64, initText: 'two three' };
  const text = createPromptTuningAdapter(model, { ...base, numVirtualTokens: 5, init: 'TEXT' }, { random: Math.random, encode: () => [7, 9] });
  const expected = model.embed(Int32Array.from([7, 9, 7, 9, 7]));
  assert.deepEqual(text.promptEmbeddings, expected);
  let seed = 1;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const values = createPromptTuningAdapter(model, { ...base, numVirtualTokens: 40, init: 'RANDOM' }, { random }).promptEmbeddings;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length;
  assert.ok(Math.abs(mean) < 0.05 && Math.abs(variance - 1) < 0.1, `mean ${mean}, variance ${variance}`);
});

import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { TypeScriptBackend } from '../../src/engine/backends/typescript.js';
import { AdapterError } from '../../src/errors.js';
import { SeededRandom } from '../../src/inference/sampling.js';
import { BloomModel } from '../../src/models/bloom/model.js';
import { applyAdapter } from '../../src/peft/apply-adapter.js';
import { BASE_MODEL_RECORD_FILE, baseModelRecordFile } from '../../src/peft/base-model-record.js';
import { createLoraAdapter } from '../../src/peft/lora/model.js';
import { repoRoot } from '../helpers/paths.js';
import { loadReference } from '../helpers/reference.js';

const scratch = mkdtempSync(join(tmpdir(), 'tuneloop-record-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** ckpt_a copied with a tokenizer.json whose text is `tokenizer`. */
function baseWithTokenizer(name: string, tokenizer: string): string {
  const dir = join(scratch, name);
  cpSync(loadReference('a').checkpointDir, dir, { recursive: true });
  writeFileSync(join(dir, 'tokenizer.json'), tokenizer);
  return dir;
}

test('an adapter saved with its base model record loads on that base, and is refused on another vocabulary', () => {
  const tokenizer = readFileSync(join(repoRoot, 'test', 'fixtures', 'tokenizer', 'tokenizer.json'), 'utf8');
  const trainedOn = baseWithTokenizer('base', tokenizer);
  const model = BloomModel.load(trainedOn, { backend: new TypeScriptBackend(), dtype: 'f32' });
  const random = new SeededRandom(1);
  const adapter = createLoraAdapter(model.config, { r: 2, loraAlpha: 4, loraDropout: 0, targetModules: ['query_key_value'], useRslora: false }, 'default', () => random.next());
  const adapterDir = join(scratch, 'adapter');
  adapter.save(adapterDir, 'base', baseModelRecordFile(model, 'base'));
  const record = JSON.parse(readFileSync(join(adapterDir, BASE_MODEL_RECORD_FILE), 'utf8'));
  assert.equal(record.vocab_size, model.config.vocabSize);
  assert.match(record.tokenizer_sha256, /^[0-9a-f]{64}$/);

  applyAdapter(BloomModel.load(trainedOn, { backend: new TypeScriptBackend(), dtype: 'f32' }), adapterDir);

  // Same architecture and shapes, another tokenizer: the LoRA tensors would load, but mean nothing.
  const otherTokenizer = baseWithTokenizer('other', tokenizer.replace('"model"', '"model" ').concat('\n'));
  assert.throws(
    () => applyAdapter(BloomModel.load(otherTokenizer, { backend: new TypeScriptBackend(), dtype: 'f32' }), adapterDir),
    (e) => AdapterError.isInstance(e) && e.field === 'tokenizer_sha256' && /another tokenizer/.test(e.message),
  );

  // A record naming another vocabulary size is refused by that field.
  writeFileSync(join(adapterDir, BASE_MODEL_RECORD_FILE), JSON.stringify({ ...record, vocab_size: record.vocab_size + 1 }));
  assert.throws(() => applyAdapter(model, adapterDir), (e) => AdapterError.isInstance(e) && e.field === 'vocab_size');
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CheckpointError } from '../../../src/errors.js';
import { bloomParameterCount, parseBloomConfig } from '../../../src/models/bloom/config.js';

const base = { model_type: 'bloom', vocab_size: 250880, hidden_size: 1024, n_layer: 24, n_head: 16 };

test('reads current and legacy field names', () => {
  const current = parseBloomConfig(base);
  const legacy = parseBloomConfig({ vocab_size: 250880, n_embed: 1024, num_hidden_layers: 24, num_attention_heads: 16 });
  assert.deepEqual(legacy, current);
  assert.equal(current.headDim, 64);
  assert.equal(current.layerNormEpsilon, 1e-5);
  assert.equal(current.tieWordEmbeddings, true);
});

test('bloom-560m has 559,214,592 parameters', () => {
  assert.equal(bloomParameterCount(parseBloomConfig(base)), 559_214_592);
});

test('bad fields are named', () => {
  const cases: [Record<string, unknown>, string, RegExp][] = [
    [{ ...base, hidden_size: undefined, n_embed: undefined }, 'hidden_size', /missing/],
    [{ ...base, n_head: 3 }, 'n_head', /not divisible/],
    [{ ...base, vocab_size: -1 }, 'vocab_size', /positive integer/],
    [{ ...base, model_type: 'gpt2' }, 'model_type', /must be "bloom"/],
    [{ ...base, eos_token_id: 300000 }, 'eos_token_id', /outside the vocabulary/],
    [{ ...base, layer_norm_epsilon: 'small' }, 'layer_norm_epsilon', /positive number/],
    [{ ...base, tie_word_embeddings: 'yes' }, 'tie_word_embeddings', /true or false/],
  ];
  for (const [json, field, pattern] of cases) {
    assert.throws(
      () => parseBloomConfig(JSON.parse(JSON.stringify(json)), '/models/x/config.json'),
      (e: unknown) => CheckpointError.isInstance(e) && e.field === field && pattern.test(e.message) && e.message.startsWith('/models/x/config.json'),
      field,
    );
  }
});

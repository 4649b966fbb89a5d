/**
 * Makes the small model the quick start runs, from what the project ships: a byte-level BPE tokenizer
 * trained on data/corpus/tutor-sample.txt and a 4-layer BLOOM with random weights in Hugging Face layout
 * at models/demo. Its weights are untrained, so its text is noise until a fine-tuning run replaces them;
 * it exercises every part of loading, tokenizing and generating.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseBloomConfig } from '../src/models/bloom/config.js';
import { writeRandomBloomCheckpoint } from '../src/models/bloom/random-init.js';
import { buildDemoTokenizer } from '../src/tokenizer/build-demo-tokenizer.js';
import { loadTokenizer } from '../src/tokenizer/tokenizer.js';

const dir = process.argv[2] ?? join('models', 'demo');
if (existsSync(join(dir, 'model.safetensors')) && existsSync(join(dir, 'tokenizer.json'))) {
  process.stderr.write(`demo model already at ${dir}\n`);
} else {
  await buildDemoTokenizer(dir);
  const tokenizer = await loadTokenizer(dir);
  const config = parseBloomConfig({
    vocab_size: tokenizer.vocabSize,
    hidden_size: 256,
    n_layer: 4,
    n_head: 8,
    bos_token_id: tokenizer.bosTokenId,
    eos_token_id: tokenizer.eosTokenId,
    pad_token_id: tokenizer.padTokenId,
  });
  writeRandomBloomCheckpoint(dir, config, { seed: 2024, initStd: 0.5 });
  process.stderr.write(`demo model written to ${dir}: vocab ${config.vocabSize}, hidden ${config.hiddenSize}, ${config.numLayers} layers, ${config.numHeads} heads\n`);
}

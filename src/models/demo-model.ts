import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseBloomConfig, type BloomConfig } from './bloom/config.js';
import { writeRandomBloomCheckpoint } from './bloom/random-init.js';
import { buildDemoTokenizer } from '../tokenizer/build-demo-tokenizer.js';
import { loadTokenizer } from '../tokenizer/tokenizer.js';

/**
 * The small model the quick start runs, made from what the project ships: a byte-level BPE tokenizer
 * trained on data/corpus/tutor-sample.txt and a 4-layer BLOOM with random weights in Hugging Face layout.
 * Its weights are untrained, so its text is noise until fine-tuning replaces them; it exercises every
 * part of loading, tokenizing and generating. Returns undefined when `dir` already holds it.
 */
export async function makeDemoModel(dir: string): Promise<BloomConfig | undefined> {
  if (existsSync(join(dir, 'model.safetensors')) && existsSync(join(dir, 'tokenizer.json'))) return undefined;
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
  // Five times transformers' initializer_range (0.02). At 0.02 a random model this narrow is inert: its
  // attention is nearly uniform whatever the content, and its tied lm_head cannot move a logit by more
  // than ~5, so prompt tuning has no gradient to follow. At 0.1 attention depends on content and every
  // method (prompt tuning, LoRA, QLoRA, bias and LayerNorm tuning) learns the shipped tasks.
  writeRandomBloomCheckpoint(dir, config, { seed: 2024, initStd: 0.1 });
  return config;
}

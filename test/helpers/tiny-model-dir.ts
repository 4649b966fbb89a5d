import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BLOOM_SPECIAL_TOKENS_MAP, BLOOM_TOKENIZER_CONFIG, trainByteLevelBpe } from '../../src/tokenizer/bpe-trainer.js';
import { repoRoot } from './paths.js';
import { loadReference } from './reference.js';

/**
 * The tiny reference checkpoint (vocabulary 512) with a tokenizer.json of the same size, trained here on
 * the demo corpus, so text goes in and out of it as with a real model directory. The fixture checkpoint
 * ships no tokenizer, and the 2000-token fixture tokenizer would produce ids the model does not have.
 */
export function writeTinyModelDir(dir: string): string {
  const checkpoint = loadReference('a').checkpointDir;
  mkdirSync(dir, { recursive: true });
  for (const file of ['config.json', 'model.safetensors']) copyFileSync(join(checkpoint, file), join(dir, file));
  const vocabSize = (JSON.parse(readFileSync(join(checkpoint, 'config.json'), 'utf8')) as { vocab_size: number }).vocab_size;
  const corpus = readFileSync(join(repoRoot, 'data', 'corpus', 'tutor-sample.txt'), 'utf8');
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(trainByteLevelBpe([corpus], { vocabSize })));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(BLOOM_TOKENIZER_CONFIG));
  writeFileSync(join(dir, 'special_tokens_map.json'), JSON.stringify(BLOOM_SPECIAL_TOKENS_MAP));
  return dir;
}

import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BLOOM_SPECIAL_TOKENS_MAP, BLOOM_TOKENIZER_CONFIG, trainByteLevelBpe } from './bpe-trainer.js';

/** Small enough to train in about a second, large enough that common English words are single tokens. */
export const DEMO_VOCAB_SIZE = 2000;

/** The tutor-style corpus that the demo tokenizer (and the demo model) are trained on. */
export function demoCorpusPath(): string {
  return join(packageRoot(), 'data', 'corpus', 'tutor-sample.txt');
}

/**
 * Trains the demo tokenizer on the tutor corpus and writes tokenizer.json, tokenizer_config.json and
 * special_tokens_map.json into `outDir`, as a Hugging Face BLOOM model directory holds them.
 */
export async function buildDemoTokenizer(outDir: string): Promise<void> {
  const corpus = await readFile(demoCorpusPath(), 'utf8');
  const tokenizerJson = trainByteLevelBpe([corpus], { vocabSize: DEMO_VOCAB_SIZE });
  await mkdir(outDir, { recursive: true });
  await writeJsonAtomically(join(outDir, 'tokenizer.json'), tokenizerJson);
  await writeJsonAtomically(join(outDir, 'tokenizer_config.json'), BLOOM_TOKENIZER_CONFIG);
  await writeJsonAtomically(join(outDir, 'special_tokens_map.json'), BLOOM_SPECIAL_TOKENS_MAP);
}

/** Writes beside the target and renames, so a reader never sees a half-written file. */
async function writeJsonAtomically(path: string, value: unknown): Promise<void> {
  const temporaryPath = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(temporaryPath, `${JSON.stringify(value, null, 2)}\n`);
    await rename(temporaryPath, path);
  } catch (error) {
    await rm(temporaryPath, { force: true });
    throw error;
  }
}

/** The directory holding package.json: the module runs from src/ under ts tooling and from dist/src/ once built. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
  return dir;
}

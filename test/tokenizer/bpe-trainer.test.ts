import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BLOOM_SPECIAL_TOKENS,
  BLOOM_TOKENIZER_CONFIG,
  trainByteLevelBpe,
  type BloomTokenizerJson,
} from '../../src/tokenizer/bpe-trainer.js';
import { buildDemoTokenizer, DEMO_VOCAB_SIZE, demoCorpusPath } from '../../src/tokenizer/build-demo-tokenizer.js';
import { Tokenizer } from '../../src/tokenizer/tokenizers-library.js';
import { repoRoot } from '../helpers/paths.js';

const corpus = await readFile(demoCorpusPath(), 'utf8');
const trained = trainByteLevelBpe([corpus], { vocabSize: DEMO_VOCAB_SIZE });

test('the demo corpus is a 30-60 KB plain-text English corpus', () => {
  const bytes = Buffer.byteLength(corpus);
  assert.ok(bytes >= 30_000 && bytes <= 60_000, `${bytes} bytes`);
  assert.ok(corpus.includes('The tutor explains'));
});

test('training is deterministic', () => {
  assert.deepEqual(trainByteLevelBpe([corpus], { vocabSize: DEMO_VOCAB_SIZE }), trained);
});

test('the vocabulary has exactly vocabSize ids: special tokens, 256 byte symbols, then merged tokens', () => {
  const entries = Object.entries(trained.model.vocab).sort((a, b) => a[1] - b[1]);
  assert.equal(entries.length, DEMO_VOCAB_SIZE);
  assert.deepEqual(
    entries.map(([, id]) => id),
    entries.map((_, index) => index),
  );
  assert.deepEqual(
    entries.slice(0, 4).map(([token]) => token),
    ['<unk>', '<s>', '</s>', '<pad>'],
  );
  const byteSymbols = entries.slice(4, 260).map(([token]) => token);
  assert.ok(byteSymbols.every((token) => token.length === 1));
  assert.equal(new Set(byteSymbols).size, 256);
  assert.equal(byteSymbols[0], '!', 'byte symbols are in code point order, as in BLOOM');
  assert.ok(entries.slice(260).every(([token]) => token.length > 1));
});

test('special tokens are added tokens with BLOOM ids and flags', () => {
  assert.deepEqual(
    trained.added_tokens.map((token) => [token.id, token.content, token.special, token.normalized]),
    BLOOM_SPECIAL_TOKENS.map((content, id) => [id, content, true, false]),
  );
});

test('every merge joins two vocabulary tokens into a vocabulary token, each merge once', () => {
  const { vocab, merges } = trained.model;
  assert.ok(merges.length >= DEMO_VOCAB_SIZE - 260);
  assert.equal(new Set(merges).size, merges.length);
  for (const merge of merges) {
    const parts = merge.split(' ');
    assert.equal(parts.length, 2, merge);
    const [left, right] = parts;
    assert.ok(Object.hasOwn(vocab, left) && Object.hasOwn(vocab, right), merge);
    assert.ok(Object.hasOwn(vocab, left + right), merge);
  }
});

test('the most frequent pair is merged first, ties going to the lexicographically first pair', () => {
  // Pieces: "the", " the" twice, " cat". (t,h) and (h,e) both occur 3 times; "h" sorts before "t".
  const byFrequency = trainByteLevelBpe(['the the the cat'], { vocabSize: 263 });
  assert.deepEqual(byFrequency.model.merges, ['h e', 't he', 'Ġ the']);
  // Every pair occurs once: "x" < "z" < "Ġ" (U+0120) decides the order.
  const byName = trainByteLevelBpe(['xy zw'], { vocabSize: 263, minFrequency: 1 });
  assert.deepEqual(byName.model.merges, ['x y', 'z w', 'Ġ zw']);
});

test('training stops early when no pair is frequent enough', () => {
  const small = trainByteLevelBpe(['abc xyz'], { vocabSize: 1000 });
  assert.deepEqual(small.model.merges, []);
  assert.equal(Object.keys(small.model.vocab).length, 260);
});

test('a vocabulary too small for the special tokens and 256 byte symbols is refused', () => {
  assert.throws(() => trainByteLevelBpe([corpus], { vocabSize: 259 }), RangeError);
  assert.throws(() => trainByteLevelBpe([corpus], { vocabSize: 300, specialTokens: ['<s>', '<s>'] }), RangeError);
});

/** Encodes with @huggingface/tokenizers itself, as a Hugging Face consumer of the file would. */
function libraryRoundTrip(tokenizerJson: BloomTokenizerJson, text: string): { ids: number[]; decoded: string } {
  const library = new Tokenizer(tokenizerJson, BLOOM_TOKENIZER_CONFIG);
  const { ids } = library.encode(text);
  return { ids, decoded: ids.length === 0 ? '' : library.decode(ids) };
}

test('@huggingface/tokenizers round-trips text through the trained tokenizer.json', () => {
  const texts = [
    'The tutor explains that a fraction is part of a whole.',
    'Punctuation, questions? Exclamations! Ellipses... and (brackets) | pipes.',
    'Whitespace runs:  two,   three,\t\ttabs,\n\n\nnewlines, and trailing   ',
    '  leading spaces',
    'Accents: é, è, ü, ñ, ç. Chinese: 中文. Emoji: 🙂🎉👍🏽.',
    'Non-breaking\u00a0space and em\u2003space.',
    corpus,
  ];
  for (const text of texts) {
    const { ids, decoded } = libraryRoundTrip(trained, text);
    assert.equal(decoded, text);
    assert.ok(ids.every((id) => id >= 0 && id < DEMO_VOCAB_SIZE));
  }
});

test('the trained merges compress English text', () => {
  const { ids } = libraryRoundTrip(trained, corpus);
  assert.ok(ids.length < Buffer.byteLength(corpus) / 3, `${ids.length} tokens`);
  assert.ok(libraryRoundTrip(trained, 'The tutor explains').ids.length <= 4);
});

test('buildDemoTokenizer writes the committed fixture files byte for byte, leaving no temporary files', async () => {
  const outDir = await mkdtemp(join(tmpdir(), 'tuneloop-demo-tokenizer-'));
  try {
    await buildDemoTokenizer(outDir);
    const written = (await readdir(outDir)).sort();
    assert.deepEqual(written, ['special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json']);
    const fixtureDir = join(repoRoot, 'test', 'fixtures', 'tokenizer');
    for (const name of written) {
      assert.equal(
        await readFile(join(outDir, name), 'utf8'),
        await readFile(join(fixtureDir, name), 'utf8'),
        `test/fixtures/tokenizer/${name} is stale: regenerate it with buildDemoTokenizer('test/fixtures/tokenizer')`,
      );
    }
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
});

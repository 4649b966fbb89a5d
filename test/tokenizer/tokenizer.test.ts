import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTokenizer, loadTokenizerFromJson } from '../../src/tokenizer/tokenizer.js';
import { TokenizerFileError } from '../../src/tokenizer/tokenizer-error.js';
import { repoRoot } from '../helpers/paths.js';

const fixtureDir = join(repoRoot, 'test', 'fixtures', 'tokenizer');
const fixtureJsonText = await readFile(join(fixtureDir, 'tokenizer.json'), 'utf8');
const tokenizer = await loadTokenizer(fixtureDir);

/** Parsed JSON that the tests corrupt field by field, so any shape goes. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type EditableJson = any;

/** A fresh, mutable copy of the fixture tokenizer.json. */
function fixtureJson(): EditableJson {
  return JSON.parse(fixtureJsonText);
}

/** Runs `body` on a temporary model directory holding `files` (name to contents), then removes it. */
async function withModelDir(files: Record<string, string>, body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tuneloop-tokenizer-'));
  try {
    for (const [name, contents] of Object.entries(files)) await writeFile(join(dir, name), contents);
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function isFileError(file: string, field: string | undefined) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof TokenizerFileError, `expected TokenizerFileError, got ${String(error)}`);
    assert.equal(error.name, 'TokenizerFileError');
    assert.ok(error.file.endsWith(file), `error names ${error.file}, expected ${file}`);
    assert.equal(error.field, field);
    assert.ok(error.message.startsWith(error.file), error.message);
    if (field !== undefined) assert.ok(error.message.includes(`field "${field}"`), error.message);
    return true;
  };
}

const roundTripTexts = [
  'The tutor explains that 12 - 5 = 7.',
  'Hello, world.  Two  spaces,   three   spaces.',
  '  leading spaces, trailing spaces  ',
  'Lines\n\nand\ttabs\t\tand\r\nCRLF\n',
  'Café, naïve, résumé, déjà vu.',
  '中文 and 日本語 text',
  'Emoji 🙂 👍🏽 🎉 and flags 🇫🇷!',
  'Literal special tokens <s> and </s> and <pad> stay as text.',
  '...!!?? …。，、',
];

test('encode then decode gives back the text exactly', () => {
  for (const text of roundTripTexts) {
    const ids = tokenizer.encode(text);
    assert.ok(ids.length > 0);
    assert.equal(tokenizer.decode(ids), text);
  }
});

test('empty text encodes to no ids and no ids decode to empty text', () => {
  assert.deepEqual(tokenizer.encode(''), []);
  assert.equal(tokenizer.decode([]), '');
});

test('special token ids follow BLOOM: <unk> 0, <s> 1, </s> 2, <pad> 3', () => {
  assert.equal(tokenizer.unkTokenId, 0);
  assert.equal(tokenizer.bosTokenId, 1);
  assert.equal(tokenizer.eosTokenId, 2);
  assert.equal(tokenizer.padTokenId, 3);
  assert.equal(tokenizer.vocabSize, 2000);
  assert.equal(tokenizer.tokenToId('</s>'), 2);
  assert.equal(tokenizer.tokenToId('no such token'), undefined);
});

test('encoding adds no BOS or EOS, with or without special tokens requested', () => {
  const text = 'The tutor explains';
  const ids = tokenizer.encode(text);
  assert.deepEqual(tokenizer.encode(text, { addSpecialTokens: false }), ids);
  for (const special of [0, 1, 2, 3]) assert.ok(!ids.includes(special));
});

test('common words of the training corpus are single tokens', () => {
  const tutor = tokenizer.tokenToId('Ġtutor');
  assert.notEqual(tutor, undefined);
  assert.equal(tokenizer.decodeToken(tutor as number), ' tutor');
  assert.ok(tokenizer.encode('The tutor explains').length <= 4);
});

test('decode keeps special tokens unless asked to skip them', () => {
  const text = 'The answer is 7.';
  const ids = [1, ...tokenizer.encode(text), 2];
  assert.equal(tokenizer.decode(ids), `<s>${text}</s>`);
  assert.equal(tokenizer.decode(ids, { skipSpecialTokens: true }), text);
});

test('ids beyond the vocabulary decode to nothing, as in Hugging Face; malformed ids are refused', () => {
  const ids = tokenizer.encode('Yes.');
  assert.equal(tokenizer.decode([...ids, 2000, 250_879]), 'Yes.');
  assert.equal(tokenizer.decodeToken(2000), '');
  assert.throws(() => tokenizer.decode([-1]), RangeError);
  assert.throws(() => tokenizer.decode([1.5]), RangeError);
});

test('streamed deltas never show U+FFFD for characters split across tokens, and add up to the text', () => {
  const text = 'Café 中文 🙂 👍🏽 done.';
  const ids = tokenizer.encode(text);
  // The English-only vocabulary spells these characters byte by byte, so some tokens hold partial characters.
  assert.ok(ids.some((id) => tokenizer.decodeToken(id).includes('\uFFFD')));

  let streamed = '';
  for (let count = 1; count <= ids.length; count++) {
    const delta = tokenizer.decodeIncrement(ids.slice(0, count), streamed.length);
    assert.ok(!delta.includes('\uFFFD'), `delta ${JSON.stringify(delta)} after ${count} tokens`);
    streamed += delta;
  }
  streamed += tokenizer.decodeIncrement(ids, streamed.length, { final: true });
  assert.equal(streamed, text);
});

test('streaming holds back an unfinished character until the final call', () => {
  // 'ä' is the byte symbol for 0xE4, the lead byte of a three-byte character such as 中.
  const leadByte = tokenizer.tokenToId('ä') as number;
  const ids = [...tokenizer.encode('Hi'), leadByte];
  assert.equal(tokenizer.decodeIncrement(ids, 0), 'Hi');
  assert.equal(tokenizer.decodeIncrement(ids, 2), '');
  assert.equal(tokenizer.decodeIncrement(ids, 2, { final: true }), '\uFFFD');
});

test('streaming can skip special tokens', () => {
  const ids = [1, ...tokenizer.encode('Yes.'), 2];
  assert.equal(tokenizer.decodeIncrement(ids, 0, { skipSpecialTokens: true }), 'Yes.');
});

test('special tokens come from the config files, special_tokens_map.json winning', async () => {
  const config = JSON.stringify({ eos_token: { content: '<pad>', __type: 'AddedToken' }, bos_token: '<s>' });
  const map = JSON.stringify({ eos_token: '</s>', pad_token: null, bos_token: 'not in vocab' });
  await withModelDir(
    { 'tokenizer.json': fixtureJsonText, 'tokenizer_config.json': config, 'special_tokens_map.json': map },
    async (dir) => {
      const loaded = await loadTokenizer(dir);
      assert.equal(loaded.eosTokenId, 2);
      assert.equal(loaded.padTokenId, undefined);
      assert.equal(loaded.bosTokenId, undefined);
      assert.equal(loaded.unkTokenId, 0);
    },
  );
});

test('without config files the BLOOM defaults name the special tokens', async () => {
  await withModelDir({ 'tokenizer.json': fixtureJsonText }, async (dir) => {
    const loaded = await loadTokenizer(dir);
    assert.deepEqual(
      [loaded.unkTokenId, loaded.bosTokenId, loaded.eosTokenId, loaded.padTokenId],
      [0, 1, 2, 3],
    );
  });
});

test('merges may be [left, right] pairs as newer tokenizer.json files write them', () => {
  const json = fixtureJson();
  json.model.merges = json.model.merges.map((merge: string) => merge.split(' '));
  const loaded = loadTokenizerFromJson(json);
  for (const text of roundTripTexts) assert.deepEqual(loaded.encode(text), tokenizer.encode(text));
});

test('a missing tokenizer.json is a TokenizerFileError naming the file', async () => {
  await withModelDir({}, async (dir) => {
    await assert.rejects(loadTokenizer(dir), isFileError('tokenizer.json', undefined));
    await assert.rejects(loadTokenizer(dir), /tokenizer\.json: not found/);
  });
});

test('a tokenizer.json that is not JSON is a TokenizerFileError naming the file', async () => {
  await withModelDir({ 'tokenizer.json': '{"model": ' }, async (dir) => {
    await assert.rejects(loadTokenizer(dir), isFileError('tokenizer.json', undefined));
    await assert.rejects(loadTokenizer(dir), /is not valid JSON/);
  });
});

test('a malformed config file is a TokenizerFileError naming that file and field', async () => {
  const cases: [Record<string, string>, string, string | undefined][] = [
    [{ 'tokenizer_config.json': '{"eos_token": 5}' }, 'tokenizer_config.json', 'eos_token'],
    [{ 'tokenizer_config.json': 'not json' }, 'tokenizer_config.json', undefined],
    [{ 'special_tokens_map.json': '["<s>"]' }, 'special_tokens_map.json', undefined],
    [
      { 'special_tokens_map.json': '{"additional_special_tokens": ["<x>", {}]}' },
      'special_tokens_map.json',
      'additional_special_tokens[1]',
    ],
  ];
  for (const [files, file, field] of cases) {
    await withModelDir({ 'tokenizer.json': fixtureJsonText, ...files }, async (dir) => {
      await assert.rejects(loadTokenizer(dir), isFileError(file, field));
    });
  }
});

test('each malformed tokenizer.json field is a TokenizerFileError naming it', () => {
  const cases: [string, (json: EditableJson) => void, string][] = [
    ['missing model', (json) => delete json.model, 'model'],
    ['model not an object', (json) => (json.model = 'BPE'), 'model'],
    ['wrong model type', (json) => (json.model.type = 'WordPiece'), 'model.type'],
    ['vocab not an object', (json) => (json.model.vocab = ['a', 'b']), 'model.vocab'],
    ['vocab missing', (json) => delete json.model.vocab, 'model.vocab'],
    ['vocab id negative', (json) => (json.model.vocab.a = -1), 'model.vocab["a"]'],
    ['vocab id reused', (json) => (json.model.vocab.a = 5), 'model.vocab["a"]'],
    ['merges not an array', (json) => (json.model.merges = 'Ġ t'), 'model.merges'],
    ['merges missing', (json) => delete json.model.merges, 'model.merges'],
    ['merge not a pair', (json) => (json.model.merges[3] = 'a b c'), 'model.merges[3]'],
    ['merge of unknown tokens', (json) => (json.model.merges[0] = 'zzq zzr'), 'model.merges[0]'],
    ['added_tokens not an array', (json) => (json.added_tokens = {}), 'added_tokens'],
    ['added token not an object', (json) => (json.added_tokens[2] = '</s>'), 'added_tokens[2]'],
    ['added token id not a number', (json) => (json.added_tokens[1].id = '1'), 'added_tokens[1].id'],
    ['added token without content', (json) => delete json.added_tokens[0].content, 'added_tokens[0].content'],
    ['added token flag not boolean', (json) => (json.added_tokens[0].special = 'yes'), 'added_tokens[0].special'],
    ['decoder not an object', (json) => (json.decoder = 'ByteLevel'), 'decoder'],
    ['pre_tokenizer without type', (json) => (json.pre_tokenizer = {}), 'pre_tokenizer.type'],
  ];
  const file = '/models/x/tokenizer.json';
  for (const [name, corrupt, field] of cases) {
    const json = fixtureJson();
    corrupt(json);
    assert.throws(() => loadTokenizerFromJson(json, {}, file), isFileError(file, field), name);
  }
  assert.throws(() => loadTokenizerFromJson([1, 2], {}, file), isFileError(file, undefined), 'not an object');
});

test('a component the library does not know is a TokenizerFileError, not a library crash', () => {
  const json = fixtureJson();
  json.decoder = { type: 'NoSuchDecoder' };
  assert.throws(() => loadTokenizerFromJson(json, {}, 'tokenizer.json'), (error: unknown) => {
    assert.ok(isFileError('tokenizer.json', undefined)(error));
    assert.match((error as Error).message, /NoSuchDecoder/);
    return true;
  });
});

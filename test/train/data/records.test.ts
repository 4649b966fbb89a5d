import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetMetadata } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { DatasetError } from '../../../src/errors.js';
import { loadRecords, type RecordOptions } from '../../../src/train/data/records.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tuneloop-records-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function fileWith(name: string, contents: string | Uint8Array): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, contents);
  return path;
}

const jsonl = (...rows: unknown[]) => rows.map((row) => JSON.stringify(row)).join('\n') + '\n';

/** Asserts that loading `file` fails with a DatasetError at `line` about `field`, and returns its message. */
async function datasetError(file: string, expected: { line?: number; field?: string }, options?: RecordOptions): Promise<string> {
  const error = await loadRecords(file, options).then(
    () => assert.fail('expected a DatasetError'),
    (caught: unknown) => caught,
  );
  assert.ok(DatasetError.isInstance(error), String(error));
  assert.equal(error.file, file);
  assert.equal(error.line, expected.line);
  assert.equal(error.field, expected.field);
  const where = expected.line === undefined ? file : `${file}:${expected.line}`;
  assert.ok(error.message.startsWith(`${where}: ${expected.field === undefined ? '' : `field "${expected.field}" `}`), error.message);
  return error.message;
}

describe('JSONL', () => {
  test('reads each record shape, detected per record, located by line', async () => {
    const file = await fileWith(
      'mixed.jsonl',
      jsonl(
        { prompt: 'Q: 2+2?', completion: ' 4' },
        { instruction: 'Translate', input: 'chat', output: 'cat' },
      ) +
        '\n' +
        jsonl({ messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello!' }] }),
    );
    const records = await loadRecords(file);
    assert.deepEqual(
      records.map((r) => r.location),
      [1, 2, 4].map((line) => ({ file, line })),
    );
    assert.deepEqual(records.map((r) => r.record), [
      { shape: 'prompt-completion', prompt: 'Q: 2+2?', completion: ' 4' },
      { shape: 'instruction', instruction: 'Translate', input: 'chat', output: 'cat' },
      { shape: 'chat', messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello!' }] },
    ]);
  });

  test('an Alpaca record without input (missing or null) has empty input', async () => {
    const file = await fileWith('alpaca.jsonl', jsonl({ instruction: 'Say hi', output: 'hi' }, { instruction: 'Say yo', input: null, output: 'yo' }));
    const records = await loadRecords(file);
    assert.deepEqual(records.map((r) => r.record), [
      { shape: 'instruction', instruction: 'Say hi', input: '', output: 'hi' },
      { shape: 'instruction', instruction: 'Say yo', input: '', output: 'yo' },
    ]);
  });

  test('field names and the shape are configurable', async () => {
    const file = await fileWith('renamed.jsonl', jsonl({ question: 'Why?', answer: ' Because.' }));
    const records = await loadRecords(file, { shape: 'prompt-completion', fields: { prompt: 'question', completion: 'answer' } });
    assert.deepEqual(records[0].record, { shape: 'prompt-completion', prompt: 'Why?', completion: ' Because.' });
    const chat = await fileWith('conversations.jsonl', jsonl({ conversation: [{ from: 'assistant', value: 'Hi' }] }));
    const chats = await loadRecords(chat, { fields: { messages: 'conversation', role: 'from', content: 'value' } });
    assert.deepEqual(chats[0].record, { shape: 'chat', messages: [{ role: 'assistant', content: 'Hi' }] });
  });

  test('malformed JSON is reported at its line', async () => {
    const file = await fileWith('broken.jsonl', jsonl({ prompt: 'a', completion: 'b' }) + '{"prompt": "a",\n');
    assert.match(await datasetError(file, { line: 2 }), /is not valid JSON/);
  });

  test('a line that is not an object is reported', async () => {
    const file = await fileWith('array.jsonl', '["prompt", "completion"]\n');
    assert.match(await datasetError(file, { line: 1 }), /record must be an object/);
  });

  test('a missing field is reported with its name', async () => {
    const file = await fileWith('missing.jsonl', jsonl({ prompt: 'a', completion: 'b' }, { prompt: 'a' }));
    assert.match(await datasetError(file, { line: 2, field: 'completion' }), /is missing$/);
  });

  test('a non-string field is reported as the message format promises', async () => {
    const file = await fileWith('number.jsonl', jsonl({ prompt: 'a', completion: 42 }));
    const message = await datasetError(file, { line: 1, field: 'completion' });
    assert.equal(message, `${file}:1: field "completion" must be a string, got number`);
  });

  test('an empty completion or output is refused', async () => {
    const empty = await fileWith('empty-completion.jsonl', jsonl({ prompt: 'a', completion: '' }));
    assert.match(await datasetError(empty, { line: 1, field: 'completion' }), /must not be empty/);
    const emptyOutput = await fileWith('empty-output.jsonl', jsonl({ instruction: 'a', output: '' }));
    await datasetError(emptyOutput, { line: 1, field: 'output' });
  });

  test('a record of no known shape is refused', async () => {
    const file = await fileWith('unknown-shape.jsonl', jsonl({ text: 'hello' }));
    assert.match(await datasetError(file, { line: 1 }), /none of the fields "messages", "instruction" or "prompt"/);
  });

  test('chat: unknown role, bad content, last message not the assistant, empty messages', async () => {
    const user = { role: 'user', content: 'Hi' };
    const unknownRole = await fileWith('role.jsonl', jsonl({ messages: [{ role: 'bot', content: 'x' }, { role: 'assistant', content: 'y' }] }));
    assert.match(await datasetError(unknownRole, { line: 1, field: 'messages[0].role' }), /unknown role "bot"/);
    const badContent = await fileWith('content.jsonl', jsonl({ messages: [user, { role: 'assistant', content: null }] }));
    await datasetError(badContent, { line: 1, field: 'messages[1].content' });
    const endsWithUser = await fileWith('ends-with-user.jsonl', jsonl({ messages: [user] }));
    assert.match(await datasetError(endsWithUser, { line: 1, field: 'messages[0].role' }), /must be "assistant"/);
    const emptyReply = await fileWith('empty-reply.jsonl', jsonl({ messages: [user, { role: 'assistant', content: '' }] }));
    await datasetError(emptyReply, { line: 1, field: 'messages[1].content' });
    const noMessages = await fileWith('no-messages.jsonl', jsonl({ messages: [] }));
    await datasetError(noMessages, { line: 1, field: 'messages' });
    const notArray = await fileWith('not-array.jsonl', jsonl({ messages: { role: 'user' } }));
    await datasetError(notArray, { line: 1, field: 'messages' });
  });

  test('an empty file, a missing file and an unknown extension are refused', async () => {
    const empty = await fileWith('empty.jsonl', '\n\n');
    assert.match(await datasetError(empty, {}), /contains no records/);
    assert.match(await datasetError(join(dir, 'absent.jsonl'), {}), /not found/);
    const text = await fileWith('notes.txt', 'hello');
    assert.match(await datasetError(text, {}), /unknown extension/);
  });
});

describe('CSV', () => {
  test('reads rows by header, with quoted commas and newlines, located by line', async () => {
    const file = await fileWith(
      'train.csv',
      'prompt,completion\n"What is 1, plus 1?", 2\n\n"Two\nlines", ok\n',
    );
    const records = await loadRecords(file);
    assert.deepEqual(records.map((r) => r.record), [
      { shape: 'prompt-completion', prompt: 'What is 1, plus 1?', completion: ' 2' },
      { shape: 'prompt-completion', prompt: 'Two\nlines', completion: ' ok' },
    ]);
    assert.equal(records[0].location.line, 2);
  });

  test('Alpaca rows with an empty input cell, and chat rows holding JSON messages', async () => {
    const alpaca = await fileWith('alpaca.csv', 'instruction,input,output\nSay hi,,hi\n');
    assert.deepEqual((await loadRecords(alpaca))[0].record, { shape: 'instruction', instruction: 'Say hi', input: '', output: 'hi' });
    const messages = JSON.stringify([{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello' }]);
    const chat = await fileWith('chat.csv', `messages\n"${messages.replaceAll('"', '""')}"\n`);
    assert.deepEqual((await loadRecords(chat))[0].record, {
      shape: 'chat',
      messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello' }],
    });
    const badChat = await fileWith('bad-chat.csv', 'messages\nnot json\n');
    assert.match(await datasetError(badChat, { line: 2, field: 'messages' }), /not a JSON array/);
  });

  test('a missing column, an empty completion and a malformed row are reported by line', async () => {
    const missing = await fileWith('missing.csv', 'prompt,answer\na,b\n');
    await datasetError(missing, { line: 2, field: 'completion' });
    const empty = await fileWith('empty-completion.csv', 'prompt,completion\na,b\nc,\n');
    await datasetError(empty, { line: 3, field: 'completion' });
    const ragged = await fileWith('ragged.csv', 'prompt,completion\na,b\nc\n');
    assert.match(await datasetError(ragged, { line: 3 }), /is not valid CSV/);
    const header = await fileWith('header-only.csv', 'prompt,completion\n');
    await datasetError(header, {});
  });
});

describe('Parquet', () => {
  async function parquetFile(name: string, columnData: Parameters<typeof parquetWriteBuffer>[0]['columnData'], schema?: Parameters<typeof parquetWriteBuffer>[0]['schema']) {
    return fileWith(name, new Uint8Array(parquetWriteBuffer({ columnData, schema })));
  }

  test('reads a Snappy-compressed file, located by 1-based row', async () => {
    const file = await parquetFile('train.parquet', [
      { name: 'prompt', data: ['What is 2 plus 2? Answer:', 'Capital of France? Answer:'], type: 'STRING' },
      { name: 'completion', data: [' 4', ' Paris'], type: 'STRING' },
    ]);
    const bytes = await readFile(file);
    const metadata = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
    assert.ok(metadata.row_groups[0].columns.every((column) => column.meta_data?.codec === 'SNAPPY'));
    const records = await loadRecords(file);
    assert.deepEqual(records.map((r) => [r.location.line, r.record]), [
      [1, { shape: 'prompt-completion', prompt: 'What is 2 plus 2? Answer:', completion: ' 4' }],
      [2, { shape: 'prompt-completion', prompt: 'Capital of France? Answer:', completion: ' Paris' }],
    ]);
  });

  test('reads chat records from a list-of-struct messages column', async () => {
    const conversations = [
      [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello' }],
    ];
    const file = await parquetFile('chat.parquet', [{ name: 'messages', data: conversations }], [
      { name: 'root', num_children: 1 },
      { name: 'messages', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
      { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
      { name: 'element', repetition_type: 'OPTIONAL', num_children: 2 },
      { name: 'role', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
      { name: 'content', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
    ]);
    assert.deepEqual((await loadRecords(file))[0].record, { shape: 'chat', messages: conversations[0] });
  });

  test('a null or non-string cell is reported by row and column', async () => {
    const nulls = await parquetFile('nulls.parquet', [
      { name: 'prompt', data: ['a', 'b', 'c'], type: 'STRING' },
      { name: 'completion', data: ['x', 'y', null], type: 'STRING' },
    ]);
    assert.match(await datasetError(nulls, { line: 3, field: 'completion' }), /is missing/);
    const numbers = await parquetFile('numbers.parquet', [
      { name: 'prompt', data: ['a'], type: 'STRING' },
      { name: 'completion', data: [7], type: 'INT32' },
    ]);
    assert.match(await datasetError(numbers, { line: 1, field: 'completion' }), /must be a string, got number/);
  });

  test('a file that is not Parquet, and one with no rows, are refused', async () => {
    const garbage = await fileWith('garbage.parquet', 'this is not parquet at all');
    assert.match(await datasetError(garbage, {}), /is not a readable Parquet file/);
    const empty = await parquetFile('empty.parquet', [
      { name: 'prompt', data: [], type: 'STRING' },
      { name: 'completion', data: [], type: 'STRING' },
    ]);
    assert.match(await datasetError(empty, {}), /contains no records/);
  });
});

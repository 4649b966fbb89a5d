import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DatasetError } from '../../../src/errors.js';
import type { LocatedRecord, TrainingRecord } from '../../../src/train/data/records.js';
import { ChatTemplate, formatRecord } from '../../../src/train/data/templates.js';

const at = (record: TrainingRecord): LocatedRecord => ({ record, location: { file: 'data/train.jsonl', line: 3 } });

test('prompt/completion records are used as they are', () => {
  assert.deepEqual(formatRecord(at({ shape: 'prompt-completion', prompt: 'What is 2 plus 2? Answer:', completion: ' 4' })), {
    prompt: 'What is 2 plus 2? Answer:',
    completion: ' 4',
  });
});

test('Alpaca records with input get the Input section', () => {
  const formatted = formatRecord(at({ shape: 'instruction', instruction: 'Translate to French.', input: 'cat', output: 'chat' }));
  assert.deepEqual(formatted, {
    prompt: '### Instruction:\nTranslate to French.\n\n### Input:\ncat\n\n### Response:\n',
    completion: 'chat',
  });
});

test('Alpaca records without input leave the Input section out', () => {
  const formatted = formatRecord(at({ shape: 'instruction', instruction: 'Name a colour.', input: '', output: 'Blue' }));
  assert.deepEqual(formatted, { prompt: '### Instruction:\nName a colour.\n\n### Response:\n', completion: 'Blue' });
});

test('Alpaca text with replacement patterns such as $& stays literal', () => {
  const formatted = formatRecord(at({ shape: 'instruction', instruction: 'Price: $& {input}', input: '$1', output: 'ok' }));
  assert.equal(formatted.prompt, '### Instruction:\nPrice: $& {input}\n\n### Input:\n$1\n\n### Response:\n');
});

test('a multi-turn chat: the prompt renders every earlier turn plus the generation prompt; the completion is the last reply', () => {
  const formatted = formatRecord(
    at({
      shape: 'chat',
      messages: [
        { role: 'system', content: 'You are a tutor.' },
        { role: 'user', content: 'What is 2 plus 2?' },
        { role: 'assistant', content: '4' },
        { role: 'user', content: 'And 3 plus 3?' },
        { role: 'assistant', content: '6' },
      ],
    }),
  );
  assert.deepEqual(formatted, {
    prompt:
      '<|system|>\nYou are a tutor.\n<|user|>\nWhat is 2 plus 2?\n<|assistant|>\n4</s>\n<|user|>\nAnd 3 plus 3?\n<|assistant|>\n',
    completion: '6',
  });
});

test('a user template renders with bos_token and eos_token', () => {
  const template = ChatTemplate.fromSource(
    "{{ bos_token }}{% for m in messages %}{{ m.role | upper }}: {{ m.content }}{{ eos_token if m.role == 'assistant' else '\\n' }}{% endfor %}{% if add_generation_prompt %}ASSISTANT:{% endif %}",
    'templates/upper.jinja',
  );
  const formatted = formatRecord(
    at({ shape: 'chat', messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: ' Hello' }] }),
    { chatTemplate: template, bosToken: '<s>', eosToken: '</s>' },
  );
  assert.deepEqual(formatted, { prompt: '<s>USER: Hi\nASSISTANT:', completion: ' Hello' });
});

test('a template that does not parse is a DatasetError naming it', () => {
  assert.throws(
    () => ChatTemplate.fromSource('{% for m in messages %}{{ m.content }', 'templates/broken.jinja'),
    (error: unknown) => DatasetError.isInstance(error) && error.file === 'templates/broken.jinja' && /not a valid Jinja chat template/.test(error.message),
  );
});

test('a template that fails on a record is a DatasetError naming the template and the record', () => {
  const template = ChatTemplate.fromSource(
    "{% if messages[0].role == 'system' %}{{ raise_exception('System messages are not supported') }}{% endif %}",
    'templates/no-system.jinja',
  );
  const record = at({ shape: 'chat', messages: [{ role: 'system', content: 'x' }, { role: 'assistant', content: 'y' }] });
  assert.throws(
    () => formatRecord(record, { chatTemplate: template }),
    (error: unknown) =>
      DatasetError.isInstance(error) &&
      error.message.startsWith('data/train.jsonl:3: ') &&
      error.message.includes('"templates/no-system.jinja"') &&
      error.message.includes('System messages are not supported'),
  );
});

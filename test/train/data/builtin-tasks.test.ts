import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { arithmeticTask, builtinTaskFiles, grammarTask } from '../../../src/train/data/builtin-tasks.js';
import { loadRecords } from '../../../src/train/data/records.js';
import { repoRoot } from '../../helpers/paths.js';

const tasksDir = join(repoRoot, 'data', 'tasks');

test('data/tasks holds exactly the files builtinTaskFiles() generates', async () => {
  const expected = builtinTaskFiles();
  assert.deepEqual((await readdir(tasksDir)).sort(), [...expected.keys()].sort());
  for (const [name, contents] of expected) assert.equal(await readFile(join(tasksDir, name), 'utf8'), contents, name);
});

test('every task file loads as prompt/completion records, and no prompt is in both splits', async () => {
  const names = [...builtinTaskFiles().keys()].filter((name) => name.endsWith('.train.jsonl')).map((name) => name.slice(0, -'.train.jsonl'.length));
  assert.deepEqual(names.sort(), ['arithmetic', 'capitals', 'grammar', 'history-dates', 'sentiment']);
  for (const name of names) {
    const prompts = async (split: string) =>
      (await loadRecords(join(tasksDir, `${name}.${split}.jsonl`))).map(({ record }) => {
        assert.equal(record.shape, 'prompt-completion');
        return record.shape === 'prompt-completion' ? record.prompt : '';
      });
    const train = new Set(await prompts('train'));
    const valid = await prompts('valid');
    assert.ok(valid.length > 0);
    assert.ok(valid.every((prompt) => !train.has(prompt)), name);
  }
});

test('arithmetic examples are distinct, deterministic and correct', () => {
  const examples = arithmeticTask(1, 400);
  assert.deepEqual(arithmeticTask(1, 400), examples);
  assert.equal(new Set(examples.map((e) => e.prompt)).size, 400);
  for (const { prompt, completion } of examples) {
    const [, a, op, b] = /^What is (\d+) (plus|minus) (\d+)\? Answer:$/.exec(prompt)!;
    assert.equal(completion, ` ${op === 'plus' ? Number(a) + Number(b) : Number(a) - Number(b)}`);
  }
});

test('the a/an answers follow the first letter', () => {
  const articles = grammarTask().filter((e) => e.completion === ' a' || e.completion === ' an');
  assert.equal(articles.length, 80);
  for (const { prompt, completion } of articles) {
    const noun = /"(\w+)"/.exec(prompt)![1];
    assert.equal(completion, /^[aeiou]/.test(noun) ? ' an' : ' a', noun);
  }
});

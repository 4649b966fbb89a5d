import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { MMLU_ITEMS_PER_SUBJECT, MMLU_MAX_LENGTH, MMLU_SUBJECTS, readMmluItems, writeMmluItems } from '../../bench/mmlu-items.js';
import { camelCaseKeys } from '../helpers/json-keys.js';
import { repoRoot } from '../helpers/paths.js';

const scratch = mkdtempSync(join(tmpdir(), 'tuneloop-mmlu-items-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

test('the MMLU items file the benchmark and its PyTorch peer read has snake_case keys, and reads back', async () => {
  const file = join(scratch, 'mmlu-items.json');
  // writeMmluItems names the test tokenizer relative to the repository, as bench/run.ts runs it.
  const cwd = process.cwd();
  process.chdir(repoRoot);
  try {
    await writeMmluItems(file);
  } finally {
    process.chdir(cwd);
  }
  const written = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  assert.equal(written.max_length, MMLU_MAX_LENGTH);
  assert.deepEqual(camelCaseKeys(written), []);
  const items = readMmluItems(file);
  assert.equal(items.items.length, MMLU_SUBJECTS.length * MMLU_ITEMS_PER_SUBJECT);
  assert.equal(items.max_length, MMLU_MAX_LENGTH);
});

test('an items file of an older tuneloop (maxLength) is refused with how to write it again', () => {
  const file = join(scratch, 'old-items.json');
  writeFileSync(file, JSON.stringify({ format: 'tuneloop-bench-mmlu-items', shots: 5, maxLength: 2048, tokenizer: 'test/fixtures/tokenizer', items: [] }));
  assert.throws(() => readMmluItems(file), /old-items\.json: max_length is missing .*worker\.js mmlu-items/);
});

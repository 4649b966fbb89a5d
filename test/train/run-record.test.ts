import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseTrainConfig } from '../../src/train/config.js';
import { recordDifferences, taskRecord } from '../../src/train/run-record.js';

const scratch = mkdtempSync(join(tmpdir(), 'tuneloop-run-record-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const train = join(scratch, 'train.jsonl');
writeFileSync(train, '{"prompt": "a", "completion": "b"}\n');

function recordOf(method: Record<string, unknown>) {
  const config = parseTrainConfig({ model: 'models/demo', method, tasks: [{ name: 'task', train }] });
  return taskRecord(config, config.tasks[0], 0);
}

// Every field of the LoRA and QLoRA methods shapes the adapter or its training: a resume or rerun with
// another value must be refused naming it, so each must be in the run record.
const LORA_FIELDS: readonly [string, unknown][] = [
  ['r', 16],
  ['lora_alpha', 3],
  ['lora_dropout', 0.1],
  ['target_modules', ['dense']],
  ['use_rslora', true],
  ['use_dora', true],
  ['modules_to_save', ['lm_head']],
];

for (const type of ['lora', 'qlora'] as const) {
  const fields = type === 'qlora' ? [...LORA_FIELDS, ['double_quant', false] as [string, unknown]] : LORA_FIELDS;
  for (const [field, value] of fields) {
    test(`${type}: a change of method.${field} is named by the run record`, () => {
      const differences = recordDifferences(recordOf({ type }), recordOf({ type, [field]: value }));
      assert.equal(differences.length, field === 'r' ? 2 : 1, differences.join('; ')); // lora_alpha defaults to 2r
      assert.match(differences[0], new RegExp(`^method\\.${field} was `));
    });
  }
}

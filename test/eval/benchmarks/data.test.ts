import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DatasetError, InvalidInputError } from '../../../src/errors.js';
import { loadSplit } from '../../../src/eval/benchmarks/data.js';
import { loadBenchmarkSuite } from '../../../src/eval/benchmarks/definition.js';
import { prepareItems } from '../../../src/eval/benchmarks/prompts.js';
import { repoRoot } from '../../helpers/paths.js';

const fixtures = join(repoRoot, 'test', 'fixtures', 'eval');
const mmlu = loadBenchmarkSuite(join(repoRoot, 'benchmarks', 'mmlu.yaml'), { dataDir: join(fixtures, 'mmlu') });
const superglue = loadBenchmarkSuite(join(repoRoot, 'benchmarks', 'superglue.yaml'), { dataDir: join(fixtures, 'superglue') });
const mmluTask = mmlu.tasks[0];
const task = (name: string) => superglue.tasks.find((t) => t.name === name)!;

async function rejects(promise: Promise<unknown>, file: string, line: number | undefined, field: string | undefined, message: RegExp) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(DatasetError.isInstance(error), String(error));
    assert.equal(error.file, file);
    assert.equal(error.line, line);
    assert.equal(error.field, field);
    assert.match(error.message, message);
    return true;
  });
}

function scratch(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tuneloop-data-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

describe('MMLU CSV loading', () => {
  it('reads quoted multi-line fields, a missing final newline and U+0085 as published', async () => {
    const dev = await loadSplit(mmluTask, 'high_school_statistics', 'dev', join(fixtures, 'mmlu'));
    assert.equal(dev.items.length, 5);
    const multiLine = dev.items[4];
    assert.ok((multiLine.fields.question as string).includes('\n'));
    assert.deepEqual(multiLine.fields.choices, [multiLine.fields.A, multiLine.fields.B, multiLine.fields.C, multiLine.fields.D]);
    assert.equal(multiLine.fields.answer, 'ABCD'.indexOf('D'));
    // The record starts on line 5 and spans several lines.
    assert.equal(multiLine.line, 5);
    const test = await loadSplit(mmluTask, 'sociology', 'test', join(fixtures, 'mmlu'));
    assert.ok((test.items[2].fields.question as string).endsWith('\u0085'));
    assert.match(test.files[0].sha256, /^[0-9a-f]{64}$/);
  });

  it('a record with the wrong number of fields names file and line', async () => {
    const dir = scratch({ 'test/x_test.csv': 'q1,a,b,c,d,A\n"q2\nspans",a,b,c,D\n', 'dev/x_dev.csv': '' });
    await rejects(loadSplit(mmluTask, 'x', 'test', dir), join(dir, 'test/x_test.csv'), 2, undefined, /has 5 fields, expected 6/);
  });

  it('an unclosed quote names file and line', async () => {
    const dir = scratch({ 'test/x_test.csv': 'q1,a,b,c,d,A\n"q2,a,b,c,d,B\n' });
    await rejects(loadSplit(mmluTask, 'x', 'test', dir), join(dir, 'test/x_test.csv'), 2, undefined, /is not valid CSV.*Quote Not Closed/);
  });

  it('an answer that is not a choice letter names file, line and field', async () => {
    const dir = scratch({ 'test/x_test.csv': 'q1,a,b,c,d,A\nq2,a,b,c,d,E\n' });
    await rejects(loadSplit(mmluTask, 'x', 'test', dir), join(dir, 'test/x_test.csv'), 2, 'answer', /label "E", expected one of "A", "B", "C", "D"/);
  });

  it('a missing file is an error naming it', async () => {
    const dir = scratch({});
    await rejects(loadSplit(mmluTask, 'nothing', 'test', dir), join(dir, 'test/nothing_test.csv'), undefined, undefined, /not found/);
  });
});

describe('SuperGLUE JSONL loading', () => {
  it('maps string labels to the Hugging Face indices', async () => {
    const cb = await loadSplit(task('cb'), null, 'validation', join(fixtures, 'superglue'));
    assert.deepEqual(
      cb.items.map((i) => i.fields.label),
      [1, 2, 0, 1, 1, 1],
    );
    const boolq = await loadSplit(task('boolq'), null, 'validation', join(fixtures, 'superglue'));
    assert.ok(boolq.items.every((i) => i.fields.label === 0 || i.fields.label === 1));
  });

  it('MultiRC becomes one item per answer option, located at its passage\'s line', async () => {
    const multirc = await loadSplit(task('multirc'), null, 'validation', join(fixtures, 'superglue'));
    assert.ok(multirc.items.length > 10);
    assert.ok(multirc.items.every((i) => i.line === 1));
    assert.deepEqual(multirc.items[0].fields.idx, { paragraph: 0, question: 0, answer: 0 });
  });

  it('invalid JSON names file and line', async () => {
    const dir = scratch({ 'CB/val.jsonl': '{"premise": "p", "hypothesis": "h", "label": "neutral"}\n\n{"premise": \n' });
    await rejects(loadSplit(task('cb'), null, 'validation', dir), join(dir, 'CB/val.jsonl'), 3, undefined, /is not valid JSON/);
  });

  it('a field the prompt needs that is missing names file, line and field', async () => {
    const dir = scratch({ 'CB/val.jsonl': '{"premise": "p", "hypothesis": "h", "label": "neutral"}\n{"premise": "p", "label": "neutral"}\n' });
    await rejects(loadSplit(task('cb'), null, 'validation', dir), join(dir, 'CB/val.jsonl'), 2, 'hypothesis', /is missing/);
  });

  it('a malformed nested record names the nested field', async () => {
    const dir = scratch({ 'MultiRC/val.jsonl': '{"idx": 0, "passage": {"text": "t", "questions": [{"question": "q", "idx": 0, "answers": [{"idx": 0, "label": 1}]}]}}\n' });
    await rejects(loadSplit(task('multirc'), null, 'validation', dir), join(dir, 'MultiRC/val.jsonl'), 1, 'passage.questions[0].answers[0].text', /is missing/);
  });

  it('a gold index outside the choices is an error at the item', async () => {
    const dir = scratch({ 'COPA/val.jsonl': '{"premise": "It rained.", "choice1": "A.", "choice2": "B.", "question": "effect", "label": 2}\n' });
    const split = await loadSplit(task('copa'), null, 'validation', dir);
    assert.throws(
      () => prepareItems(task('copa'), null, split.items, { shots: 0, pool: [], sameSplit: true }),
      (error: unknown) => DatasetError.isInstance(error) && error.line === 1 && /not a choice index 0\.\.1/.test(error.message),
    );
  });
});

describe('benchmark definitions', () => {
  const write = (yaml: string) => {
    const dir = scratch({ 'suite.yaml': yaml });
    return join(dir, 'suite.yaml');
  };
  const minimal = (extra: string) => `suite: s\ntasks:\n  - name: t\n    data: {format: jsonl, splits: {validation: v.jsonl}}\n    eval_split: validation\n    doc_to_text: "{{q}}"\n    doc_to_choice: ["a", "b"]\n    doc_to_target: "{{label}}"\n    metrics: [acc]\n${extra}`;

  it('the shipped suites load, with the tutor groups in MMLU', () => {
    assert.equal(mmluTask.subsets!.length, 57);
    const groups = Object.fromEntries(mmlu.groups.map((g) => [g.name, g.tasks]));
    assert.ok(groups.history.includes('mmlu_high_school_us_history'));
    assert.ok(groups.mathematics.includes('mmlu_elementary_mathematics'));
    assert.ok(groups.general_knowledge.includes('mmlu_global_facts'));
    assert.equal(groups.stem.length + groups.humanities.length + groups.social_sciences.length + groups.other.length, 57);
    assert.deepEqual(
      superglue.tasks.map((t) => t.name),
      ['boolq', 'cb', 'copa', 'rte', 'wic', 'wsc', 'multirc'],
    );
  });

  it('errors name the file and the field path', () => {
    const cases: [string, RegExp][] = [
      [minimal('    sampler: x\n'), /tasks\[0\]\.sampler: is not a known field/],
      [minimal('').replace('metrics: [acc]', 'metrics: [bleu]'), /tasks\[0\]\.metrics\[0\]: "bleu" is not a metric of multiple_choice tasks/],
      [minimal('').replace('metrics: [acc]', 'scoring: generate\n    generation: {max_new_tokens: 8}\n    metrics: [acc]'), /tasks\[0\]\.metrics\[0\]: "acc" is not a metric of generate tasks \(bleu, chrf, ter, rouge1/],
      [minimal('').replace('metrics: [acc]', 'scoring: outputs\n    metrics: [bleu]'), /tasks\[0\]\.doc_to_output: is required/],
      [minimal('').replace('metrics: [acc]', 'metrics: [acc]\n    doc_to_output: "{{x}}"'), /tasks\[0\]\.doc_to_output: applies only to scoring: outputs/],
      [minimal('').replace('doc_to_text: "{{q}}"', 'doc_to_text: "{{q"'), /tasks\[0\]\.doc_to_text: is not a valid template/],
      [minimal('').replace('eval_split: validation', 'eval_split: test'), /tasks\[0\]\.eval_split: "test" is not one of data\.splits/],
      [minimal('    fewshot: {shots: 2}\n'), /tasks\[0\]\.fewshot\.shots: needs fewshot\.split/],
      [minimal('groups:\n  - {name: g, tasks: [nope]}\n'), /groups\[0\]\.tasks\[0\]: "nope" is not a task/],
      [minimal('').replace('metrics: [acc]', 'metrics: [f1a]'), /tasks\[0\]\.positive_choice: is required by the f1a metric/],
      [minimal('').replace('metrics: [acc]', 'metrics: [acc]\n    scoring: rank'), /tasks\[0\]\.scoring: must be one of multiple_choice, generate, outputs, got "rank"/],
      [minimal('').replace('format: jsonl, ', ''), /tasks\[0\]\.data\.format: is required: one of csv, jsonl, lines/],
      [minimal('    fewshot: {split: validation, shots: -1}\n'), /tasks\[0\]\.fewshot\.shots: must be >= 0, got -1/],
    ];
    for (const [yaml, message] of cases) {
      const file = write(yaml);
      assert.throws(
        () => loadBenchmarkSuite(file),
        (error: unknown) => InvalidInputError.isInstance(error) && error.message.startsWith(file) && message.test(error.message),
        String(message),
      );
    }
  });

  it('a generate task is accepted by the format with its generation settings', () => {
    const file = write(minimal('').replace('metrics: [acc]', 'scoring: generate\n    generation: {until: ["\\n"], max_new_tokens: 32}\n    metrics: [bleu, rougeL]\n    rouge_use_stemmer: true'));
    const suite = loadBenchmarkSuite(file);
    assert.deepEqual(suite.tasks[0].scoring, { type: 'generate', until: ['\n'], maxNewTokens: 32 });
    assert.deepEqual(suite.tasks[0].metrics, ['bleu', 'rougeL']);
    assert.equal(suite.tasks[0].rougeUseStemmer, true);
  });
});

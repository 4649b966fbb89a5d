import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { MMLU_SUBJECTS } from '../../../bench/mmlu-items.js';
import { DatasetError } from '../../../src/errors.js';
import { chooseDataDir } from '../../../src/eval/benchmarks/data-location.js';
import { loadBenchmarkSuite } from '../../../src/eval/benchmarks/definition.js';
import { locateTaskData } from '../../../src/eval/benchmarks/runner.js';
import { repoRoot } from '../../helpers/paths.js';

const work = mkdtempSync(join(tmpdir(), 'tuneloop-data-location-'));
after(() => rmSync(work, { recursive: true, force: true }));
const mmluFile = join(repoRoot, 'benchmarks', 'mmlu.yaml');
const shippedMmlu = join(repoRoot, 'data', 'benchmarks', 'mmlu');

describe('where a suite looks for its data', () => {
  it('a shipped suite: the shipped data/benchmarks folder, then ../shared/data beside the project', () => {
    const suite = loadBenchmarkSuite(mmluFile, { environment: {} });
    assert.deepEqual(
      suite.dataLocations.map((l) => l.dir),
      [shippedMmlu, resolve(repoRoot, '..', 'shared', 'data', 'mmlu')],
    );
    assert.match(suite.dataSource!.published, /^https:\/\/people\.eecs\.berkeley\.edu\/~hendrycks\/data\.tar/);
  });

  it('TUNELOOP_DATA_DIR replaces both; --data-dir replaces everything', () => {
    const fromEnv = loadBenchmarkSuite(mmluFile, { environment: { TUNELOOP_DATA_DIR: '/data/root' } });
    assert.deepEqual(fromEnv.dataLocations, [{ dir: '/data/root/mmlu', origin: 'TUNELOOP_DATA_DIR=/data/root' }]);
    const fromFlag = loadBenchmarkSuite(mmluFile, { dataDir: '/my/mmlu', environment: { TUNELOOP_DATA_DIR: '/data/root' } });
    assert.deepEqual(fromFlag.dataLocations, [{ dir: '/my/mmlu', origin: '--data-dir' }]);
  });

  it("a user suite's data_dir is relative to its file; data_dir and data_source.folder together are an error", () => {
    const file = join(work, 'defs', 'quiz.yaml');
    mkdirSync(dirname(file), { recursive: true });
    const task = 'tasks: [{name: q, data: {format: jsonl, splits: {test: q.jsonl}}, eval_split: test, doc_to_text: "{{q}}", doc_to_choice: [a, b], doc_to_target: "0", metrics: [acc]}]\n';
    writeFileSync(file, `suite: quiz\ndata_dir: ../quiz-data\n${task}`);
    assert.deepEqual(loadBenchmarkSuite(file).dataLocations.map((l) => l.dir), [join(work, 'quiz-data')]);
    writeFileSync(file, `suite: quiz\ndata_dir: ../quiz-data\ndata_source: {folder: quiz, format: jsonl, published: https://example.org}\n${task}`);
    assert.throws(() => loadBenchmarkSuite(file), /data_source\.folder.*and data_dir name the data twice/);
  });

  it('the first folder holding every needed file wins; a folder lacking one is passed over', () => {
    const [a, b] = [join(work, 'a'), join(work, 'b')];
    for (const dir of [a, b]) mkdirSync(join(dir, 'test'), { recursive: true });
    writeFileSync(join(a, 'test', 'x_test.csv'), '');
    writeFileSync(join(b, 'test', 'x_test.csv'), '');
    writeFileSync(join(b, 'test', 'y_test.csv'), '');
    const locations = [
      { dir: a, origin: 'first' },
      { dir: b, origin: 'second' },
    ];
    const needs = (...subjects: string[]) => subjects.map((s) => ({ path: `test/${s}_test.csv`, pattern: 'test/<subset>_test.csv' }));
    assert.equal(chooseDataDir('mmlu', locations, needs('x'), null), a);
    assert.equal(chooseDataDir('mmlu', locations, needs('x', 'y'), null), b);
    assert.throws(
      () => chooseDataDir('mmlu', locations, needs('x', 'z'), { folder: 'mmlu', format: 'CSV', published: 'https://example.org/mmlu' }),
      (e: unknown) =>
        DatasetError.isInstance(e) &&
        e.file === join(a, 'test', 'z_test.csv') &&
        /\(first\): missing test\/z_test\.csv\n.*\(second\): missing test\/z_test\.csv\nExpected files, relative to the data folder: test\/<subset>_test\.csv\nFormat: CSV\nOfficial dataset: https:\/\/example\.org\/mmlu/.test(e.message),
    );
  });
});

describe('the shipped MMLU data', () => {
  // The demo and README commands, `npm run bench`'s subjects, and the tutor's groups, 5-shot.
  const tutorGroups = ['history', 'mathematics', 'general_knowledge'];
  it('holds every subject the demo, the README, npm run bench and the tutor use, test and dev', () => {
    const suite = loadBenchmarkSuite(mmluFile, { environment: {} });
    const tutorSubjects = suite.groups.filter((g) => tutorGroups.includes(g.name)).flatMap((g) => g.tasks.map((t) => t.replace(/^mmlu_/, '')));
    assert.equal(tutorSubjects.length, 11);
    const subjects = [...new Set(['anatomy', 'sociology', 'virology', ...MMLU_SUBJECTS, ...tutorSubjects])];
    assert.equal(locateTaskData(suite, { subsets: subjects, shots: 5 }).dataDir, shippedMmlu);
  });
});

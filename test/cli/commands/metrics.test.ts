import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { SIGNATURE_VERSION } from '../../../src/eval/metrics/signature.js';
import { assertNear, caseInputs, metricFixturesDir, readMetricFixture, withOurVersion, type TextMetricFixture } from '../../helpers/metric-fixtures.js';
import { repoRoot } from '../../helpers/paths.js';

const cli = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const scratch = mkdtempSync(join(tmpdir(), 'tuneloop-metrics-cli-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const wmtHyp = join(metricFixturesDir, 'wmt17', 'newstest2017.uedin-nmt.4722.en-de');
const wmtRef = join(metricFixturesDir, 'wmt17', 'newstest2017-ende-ref.de');
const wmtRef2 = join(metricFixturesDir, 'wmt17', 'newstest2017.online-B.0.en-de');

type Case = { name: string; corpus: { score: number; signature: string; formatted: string; counts?: number[]; num_edits?: number }; sentences?: ({ score: number } | number)[] };
const bleu = readMetricFixture<TextMetricFixture<Case>>('bleu.json');
const chrf = readMetricFixture<TextMetricFixture<Case>>('chrf.json');
const ter = readMetricFixture<TextMetricFixture<Case>>('ter.json');

function fixtureCase(fixture: TextMetricFixture<Case>, name: string) {
  const found = fixture.cases.find((c) => c.name === name);
  assert.ok(found, `fixture case ${name}`);
  return found;
}

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cli, 'metrics', ...args], { encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function runJson(args: string[]): Record<string, unknown> {
  const { status, stdout, stderr } = run([...args, '--json']);
  assert.equal(status, 0, stderr);
  assert.equal(stdout.trim().split('\n').length, 1, 'one JSON object');
  return JSON.parse(stdout) as Record<string, unknown>;
}

/** A --pairs file holding a fixture case's rows. */
function pairsFile(fixture: TextMetricFixture<Case>, c: Case & { hypotheses: string; references: string[] }, name: string): string {
  const { hypotheses, references } = caseInputs(fixture, c);
  const path = join(scratch, name);
  writeFileSync(path, hypotheses.map((hypothesis, i) => JSON.stringify({ hypothesis, references: references[i] })).join('\n') + '\n');
  return path;
}

test('metrics bleu --hyp --ref --json prints sacreBLEU\'s score, statistics and our signature', () => {
  const expected = fixtureCase(bleu, 'wmt17 uedin tok=13a');
  const out = runJson(['bleu', '--hyp', wmtHyp, '--ref', wmtRef]);
  assertNear(out.score as number, expected.corpus.score, 'score');
  assert.deepEqual(out.counts, expected.corpus.counts);
  assert.equal(out.signature, withOurVersion(expected.corpus.signature, SIGNATURE_VERSION));
  assert.equal(out.rows, 300);
  assert.deepEqual(Object.keys(out).sort(), ['bp', 'counts', 'level', 'metric', 'name', 'precisions', 'ratio', 'ref_len', 'rows', 'score', 'signature', 'sys_len', 'totals']);
});

test('metrics bleu without --json prints the sacreBLEU report line; --per-item adds a line per row', () => {
  const expected = fixtureCase(bleu, 'wmt17 uedin tok=13a');
  const { status, stdout, stderr } = run(['bleu', '--hyp', wmtHyp, '--ref', wmtRef, '--per-item']);
  assert.equal(status, 0, stderr);
  const lines = stdout.trim().split('\n');
  assert.equal(lines[0], withOurVersion(expected.corpus.formatted, SIGNATURE_VERSION));
  assert.equal(lines.length, 301);
  assert.match(lines[1], /^1\tBLEU = \d+\.\d\d /);
});

test('metrics bleu/chrf/ter with two --ref files equal sacreBLEU with two references', () => {
  const cases: [string, TextMetricFixture<Case>, string, string[]][] = [
    ['bleu', bleu, 'wmt17 uedin + online-B as second reference', []],
    ['chrf', chrf, 'wmt17 uedin chrF++ + online-B as second reference', ['--word-order', '2']],
    ['ter', ter, 'wmt17 uedin TER + online-B as second reference', []],
  ];
  for (const [metric, fixture, name, extra] of cases) {
    const out = runJson([metric, '--hyp', wmtHyp, '--ref', wmtRef, '--ref', wmtRef2, ...extra]);
    assertNear(out.score as number, fixtureCase(fixture, name).corpus.score, name);
    assert.match(out.signature as string, /^nrefs:2\|/);
  }
});

test('metrics with --pairs JSONL and the BLEU, chrF and TER options equal sacreBLEU', () => {
  const cases: [string, TextMetricFixture<Case>, string, string[]][] = [
    ['bleu', bleu, 'constructed two references', []],
    ['bleu', bleu, 'constructed smooth=floor:0.05', ['--smooth', 'floor:0.05']],
    ['bleu', bleu, 'constructed smooth=add-k:None', ['--smooth', 'add-k']],
    ['bleu', bleu, 'constructed tok=zh lowercase', ['--tokenize', 'zh', '--lowercase']],
    ['bleu', bleu, 'constructed variable references', []],
    ['chrf', chrf, 'constructed chrF++ two references', ['--word-order', '2']],
    ['chrf', chrf, 'constructed chrF beta=1 char_order=4 word_order=1', ['--beta', '1', '--char-order', '4', '--word-order', '1']],
    ['chrf', chrf, 'constructed chrF whitespace', ['--whitespace']],
    ['ter', ter, 'constructed TER two references', []],
    ['ter', ter, 'constructed TER normalized asian', ['--normalized', '--asian-support']],
    ['ter', ter, 'constructed TER case-sensitive', ['--case-sensitive']],
  ];
  cases.forEach(([metric, fixture, name, extra], i) => {
    const c = fixtureCase(fixture, name);
    const out = runJson([metric, '--pairs', pairsFile(fixture, c, `pairs-${i}.jsonl`), ...extra]);
    assertNear(out.score as number, c.corpus.score, name);
    assert.equal(out.signature, withOurVersion(c.corpus.signature, SIGNATURE_VERSION), name);
  });
});

test('metrics bleu --sentence scores each row with sentence BLEU (effective order) and averages them', () => {
  const expected = fixtureCase(bleu, 'wmt17 uedin tok=13a');
  const out = runJson(['bleu', '--sentence', '--hyp', wmtHyp, '--ref', wmtRef]);
  const items = out.items as { score: number }[];
  assert.equal(items.length, 300);
  items.forEach((item, i) => assertNear(item.score, (expected.sentences![i] as { score: number }).score, `row ${i + 1}`));
  assertNear(out.score as number, items.reduce((s, x) => s + x.score, 0) / items.length, 'mean');
  assert.match(out.signature as string, /\|eff:yes\|/);
  assert.equal(out.level, 'sentence');
});

test('metrics chrf and ter --per-item list sacreBLEU\'s sentence scores', () => {
  const chrfCase = fixtureCase(chrf, 'wmt17 uedin chrF');
  const chrfOut = runJson(['chrf', '--per-item', '--hyp', wmtHyp, '--ref', wmtRef]);
  assertNear(chrfOut.score as number, chrfCase.corpus.score, 'chrF corpus');
  (chrfOut.items as { score: number }[]).forEach((item, i) => assertNear(item.score, chrfCase.sentences![i] as number, `chrF row ${i + 1}`));
  const terCase = fixtureCase(ter, 'wmt17 uedin TER');
  const terOut = runJson(['ter', '--per-item', '--hyp', wmtHyp, '--ref', wmtRef]);
  assert.equal(terOut.num_edits, terCase.corpus.num_edits);
  (terOut.items as { score: number }[]).forEach((item, i) => assertNear(item.score, (terCase.sentences![i] as { score: number }).score, `TER row ${i + 1}`));
});

interface RougeFixture {
  rows: { prediction: string; references: string[] }[];
  results: Record<'plain' | 'stem', { items: Record<string, unknown>[]; mean: Record<string, { precision: number; recall: number; fmeasure: number }> }>;
  bootstrap: { seed: number; confidence_interval: number; n_samples: number; rows: number; result: Record<string, Record<string, { fmeasure: number }>> }[];
}

test('metrics rouge --json prints rouge-score\'s averages, its bootstrap intervals, and per-item scores', () => {
  const rouge = readMetricFixture<RougeFixture>('rouge.json');
  const pairs = join(scratch, 'summaries.jsonl');
  writeFileSync(pairs, rouge.rows.map((r) => JSON.stringify({ hypothesis: r.prediction, references: r.references })).join('\n'));
  for (const variant of ['plain', 'stem'] as const) {
    const out = runJson(['rouge', '--pairs', pairs, ...(variant === 'stem' ? ['--stem'] : []), '--per-item']);
    for (const type of ['rouge1', 'rouge2', 'rougeL', 'rougeLsum']) {
      const expected = rouge.results[variant].mean[type];
      const actual = out[type] as typeof expected;
      for (const measure of ['precision', 'recall', 'fmeasure'] as const) assertNear(actual[measure], expected[measure], `${variant} ${type} ${measure}`);
    }
    assert.equal((out.items as unknown[]).length, rouge.rows.length);
  }
  const boot = rouge.bootstrap[0];
  const out = runJson(['rouge', '--pairs', pairs, '--stem', '--bootstrap', String(boot.n_samples), '--seed', String(boot.seed)]);
  const intervals = out.bootstrap as Record<string, Record<string, { fmeasure: number }>>;
  for (const [type, bounds] of Object.entries(boot.result)) {
    for (const bound of ['low', 'mid', 'high']) assertNear(intervals[type][bound].fmeasure, bounds[bound].fmeasure, `${type} ${bound}`);
  }
});

test('metrics rouge without --json prints one line per type', () => {
  const hyp = join(scratch, 'rouge-hyp.txt');
  const ref = join(scratch, 'rouge-ref.txt');
  writeFileSync(hyp, 'the cat sat on the mat\n');
  writeFileSync(ref, 'the cat is on the mat\n');
  const { status, stdout, stderr } = run(['rouge', '--hyp', hyp, '--ref', ref, '--types', 'rouge1,rougeL']);
  assert.equal(status, 0, stderr);
  const lines = stdout.trim().split('\n');
  assert.match(lines[0], /^ROUGE\|nrefs:1\|case:lc\|tok:rouge-score\|stem:no\|lsum:newline\|version:tuneloop-1 \(mean over 1 rows\)$/);
  // 5 of 6 unigrams match on each side: P = R = F = 5/6.
  assert.equal(lines[1].trim(), 'rouge1  P = 0.8333  R = 0.8333  F = 0.8333');
  assert.equal(lines.length, 3);
});

test('bad input gets a message naming the file, line, field or option, and exit code 2', () => {
  const short = join(scratch, 'short.txt');
  writeFileSync(short, 'one line\n');
  const bad = (name: string, text: string) => {
    const path = join(scratch, name);
    writeFileSync(path, text);
    return path;
  };
  const cases: [string[], RegExp][] = [
    [['bleu', '--hyp', wmtHyp, '--ref', short], /short\.txt: has 1 lines but the hypothesis file .*newstest2017\.uedin-nmt\.4722\.en-de has 300 lines/],
    [['chrf', '--hyp', wmtHyp, '--ref', wmtRef, '--ref', short], /short\.txt: has 1 lines but the hypothesis file .* has 300 lines/],
    [['bleu', '--pairs', bad('a.jsonl', '{"hypothesis": "a", "references": ["a"]}\n{"hypothesis": "b", \n')], /a\.jsonl:2: is not valid JSON/],
    [['bleu', '--pairs', bad('b.jsonl', '\n{"references": ["a"]}\n')], /b\.jsonl:2: field "hypothesis" is missing/],
    [['ter', '--pairs', bad('c.jsonl', '{"hypothesis": "a", "references": "a"}\n')], /c\.jsonl:1: field "references" must be an array of strings/],
    [['rouge', '--pairs', bad('d.jsonl', '{"hypothesis": "a", "references": ["a", 3]}\n')], /d\.jsonl:1: field "references\[1\]" must be a string/],
    [['bleu', '--pairs', bad('e.jsonl', '{"hypothesis": "a", "references": []}\n')], /e\.jsonl:1: field "references" is empty/],
    [['bleu', '--pairs', bad('f.jsonl', '["a", ["a"]]\n')], /f\.jsonl:1: must be a JSON object/],
    [['bleu', '--pairs', join(scratch, 'missing.jsonl')], /missing\.jsonl: not found/],
    [['bleu', '--hyp', wmtHyp], /--ref: give at least one reference file/],
    [['bleu', '--hyp', wmtHyp, '--ref', wmtRef, '--pairs', short], /give either --pairs or --hyp/],
    [['bleu', '--hyp', wmtHyp, '--ref', wmtRef, '--tokenize', 'moses'], /--tokenize: unknown tokenizer "moses"/],
    [['bleu', '--hyp', wmtHyp, '--ref', wmtRef, '--smooth', 'floor:x'], /--smooth: must be a number, got "x"/],
    [['bleu', '--hyp', wmtHyp, '--ref', wmtRef, '--smooth', 'exp:1'], /smooth: method "exp" takes no value/],
    [['bleu', '--hyp', wmtHyp, '--ref', wmtRef, '--stem'], /--stem: applies to rouge, not bleu/],
    [['rouge', '--hyp', wmtHyp, '--ref', wmtRef, '--types', 'rouge1,rougeW'], /--types: unknown ROUGE type "rougeW"/],
    [['rouge', '--hyp', wmtHyp, '--ref', wmtRef, '--seed', '3'], /--seed: applies to --bootstrap/],
    [['chrf', '--hyp', wmtHyp, '--ref', wmtRef, '--word-order', '1.5'], /--word-order: must be an integer of at least 0, got "1.5"/],
    [['meteor', '--hyp', wmtHyp, '--ref', wmtRef], /metric: give exactly one of bleu, chrf, ter, rouge/],
    [[], /metric: give exactly one of bleu, chrf, ter, rouge \(got none\)/],
  ];
  for (const [args, pattern] of cases) {
    const { status, stderr } = run(args);
    assert.equal(status, 2, `${args.join(' ')} → ${stderr}`);
    assert.match(stderr, pattern);
    assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
  }
});

test('metrics --help teaches the command', () => {
  const { status, stdout } = run(['--help']);
  assert.equal(status, 0);
  for (const text of ['--hyp FILE', '--pairs FILE', '--tokenize', '--smooth', '--stem', '--sentence', '--per-item', 'Examples:']) assert.ok(stdout.includes(text), text);
  assert.ok(readFileSync(join(repoRoot, 'src', 'cli', 'main.ts'), 'utf8').includes('metrics: { help: METRICS_HELP'));
});

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TypeScriptBackend } from '../../../src/engine/backends/typescript.js';
import { loadBenchmarkSuite } from '../../../src/eval/benchmarks/definition.js';
import { renderHelmHtml } from '../../../src/eval/helm/html.js';
import { DEFAULT_PERTURBATIONS, buildPerturbations } from '../../../src/eval/helm/registry.js';
import { loadBiasWordLists } from '../../../src/eval/helm/resources.js';
import { type HelmResults, type HelmRunOptions, runHelmReport } from '../../../src/eval/helm/run.js';
import { formatHelmTable } from '../../../src/eval/helm/table.js';
import { loadToxicityLexicon } from '../../../src/eval/helm/toxicity.js';
import { BloomModel } from '../../../src/models/bloom/model.js';
import { BLOOM_SPECIAL_TOKENS_MAP, BLOOM_TOKENIZER_CONFIG, trainByteLevelBpe } from '../../../src/tokenizer/bpe-trainer.js';
import { type BloomTokenizer, loadTokenizer } from '../../../src/tokenizer/tokenizer.js';
import { parseHtmlStructure } from '../../helpers/html-structure.js';
import { referenceDir, repoRoot } from '../../helpers/paths.js';

/**
 * End to end on the tiny reference checkpoint (vocabulary 512) with a byte-level BPE of the same size
 * trained on the sample items, as the benchmark runner tests do. The model is near chance; what is
 * checked is the report's structure, its internal arithmetic, determinism, the cache, the HTML and
 * the CLI.
 */
const fixtures = join(repoRoot, 'test', 'fixtures', 'eval');
let work: string;
let modelDir: string;
let model: BloomModel;
let tokenizer: BloomTokenizer;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'tuneloop-helm-'));
  modelDir = join(work, 'model');
  mkdirSync(modelDir);
  for (const f of ['config.json', 'model.safetensors']) copyFileSync(join(referenceDir, 'ckpt_a', f), join(modelDir, f));
  const texts = readdirSync(join(fixtures, 'superglue')).map((t) => readFileSync(join(fixtures, 'superglue', t, 'val.jsonl'), 'utf8'));
  writeFileSync(join(modelDir, 'tokenizer.json'), JSON.stringify(trainByteLevelBpe(texts, { vocabSize: 512 })));
  writeFileSync(join(modelDir, 'tokenizer_config.json'), JSON.stringify(BLOOM_TOKENIZER_CONFIG));
  writeFileSync(join(modelDir, 'special_tokens_map.json'), JSON.stringify(BLOOM_SPECIAL_TOKENS_MAP));
  tokenizer = await loadTokenizer(modelDir);
  model = BloomModel.load(modelDir, { backend: new TypeScriptBackend(), dtype: 'f32' });
});

after(() => execFileSync('rm', ['-rf', work]));

function options(cacheDir: string | undefined): HelmRunOptions {
  return {
    selection: { tasks: ['cb', 'copa', 'boolq'], limit: 4 },
    adapter: null,
    perturbations: buildPerturbations([...DEFAULT_PERTURBATIONS, 'gender_terms:1']),
    metric: 'acc',
    batchSize: 4,
    maxLength: 256,
    cacheDir,
    generation: { prompts: null, source: 'superglue prompts', limit: 3, maxNewTokens: 6, strategy: { kind: 'greedy' } },
    biasWordLists: loadBiasWordLists(),
    toxicityLexicon: loadToxicityLexicon(),
  };
}

const inUnit = (v: number | null) => v === null || (v >= 0 && v <= 1);

describe('HELM report on the reference checkpoint', () => {
  let results: HelmResults;
  const suite = () => loadBenchmarkSuite(join(repoRoot, 'benchmarks', 'superglue.yaml'), { dataDir: join(fixtures, 'superglue') });

  it('has every section, with figures in range and the record of what ran', async () => {
    results = await runHelmReport(model, tokenizer, suite(), 'suite-sha', options(join(work, 'cache')));
    assert.equal(results.format, 'tuneloop-helm-results');
    assert.deepEqual(results.tasks.map((t) => t.name), ['boolq', 'cb', 'copa']);
    assert.match(results.model.sha256, /^[0-9a-f]{64}$/);
    for (const [name, d] of Object.entries(results.data)) assert.match(d.sha256, /^[0-9a-f]{64}$/, name);
    assert.deepEqual(results.perturbations.map((p) => p.key), [...DEFAULT_PERTURBATIONS, 'gender_terms:1']);
    for (const p of results.perturbations) assert.equal(p.version, 1);
    assert.match(String(results.perturbations.find((p) => p.key === 'dialect:1')!.params.mapping_sha256), /^[0-9a-f]{64}$/);
    assert.equal(results.settings.perturbationSeed, null);
    assert.deepEqual(results.settings.fields.cb, { input: ['premise', 'hypothesis'], references: [] });
    for (const t of results.tasks) {
      assert.ok('acc' in t.metrics, t.name);
      assert.equal(t.calibration.bins.reduce((n, b) => n + b.count, 0), t.items);
      assert.ok(t.calibration.ece >= 0 && t.calibration.ece <= 1);
      // The worst case can only lose: robustness and fairness never exceed the original accuracy.
      assert.ok(t.worstCase.robustness! <= t.worstCase.original + 1e-12, t.name);
      assert.ok(t.worstCase.fairness! <= t.worstCase.original + 1e-12, t.name);
      assert.equal(t.worstCase.original, t.metrics.acc, `${t.name}: per-instance acc equals the suite's acc`);
      for (const p of t.worstCase.perturbations) for (const v of [p.all, p.perturbed, p.original, p.worst]) assert.ok(inUnit(v), `${t.name} ${p.name}`);
    }
    assert.equal(results.overall.items, 12);
    const lowercase = results.overall.worstCase.perturbations.find((p) => p.name === 'lowercase')!;
    assert.ok(lowercase.changed > 0, 'lowercase changes the capitalised premises');
    assert.equal(results.generation.records.length, 3);
    for (const r of results.generation.records) assert.ok(r.newTokens >= 1 && r.newTokens <= 6);
    assert.deepEqual(Object.keys(results.bias.scores).sort(), ['associations:gender:adjective', 'associations:gender:profession', 'associations:race:adjective', 'associations:race:profession', 'representation:gender', 'representation:race']);
    assert.ok(inUnit(results.toxicity.toxicFraction));
    const lat = results.efficiency.generation.latency!;
    assert.ok(lat.p50Ms > 0 && lat.p50Ms <= lat.p95Ms && lat.p95Ms <= lat.maxMs);
    assert.ok(results.efficiency.scoring.scored > 0 && results.efficiency.scoring.scored <= results.efficiency.scoring.requests, 'a fresh cache scores every distinct request once');
    assert.ok(results.efficiency.scoring.tokensPerSecond! > 0);
    if (existsSync('/proc/self/status')) assert.ok(results.efficiency.peakResidentBytes! > 1e6);
  });

  it('overall worst-case figures are the item-weighted means of the tasks\'', () => {
    const weighted = (pick: (w: HelmResults['tasks'][number]['worstCase']) => number | null) => results.tasks.reduce((s, t) => s + t.items * pick(t.worstCase)!, 0) / results.overall.items;
    assert.ok(Math.abs(results.overall.worstCase.robustness! - weighted((w) => w.robustness)) < 1e-12);
    assert.ok(Math.abs(results.overall.worstCase.fairness! - weighted((w) => w.fairness)) < 1e-12);
    assert.ok(Math.abs(results.overall.worstCase.original - weighted((w) => w.original)) < 1e-12);
  });

  it('is deterministic: a rerun scores nothing new and reports the same figures', async () => {
    const again = await runHelmReport(model, tokenizer, suite(), 'suite-sha', options(join(work, 'cache')));
    assert.equal(again.efficiency.scoring.scored, 0);
    assert.equal(again.efficiency.scoring.tokensPerSecond, null);
    assert.deepEqual(again.tasks, results.tasks);
    assert.deepEqual(again.overall, results.overall);
    assert.deepEqual(again.bias, results.bias);
    assert.deepEqual(again.generation.records.map((r) => r.text), results.generation.records.map((r) => r.text));
  });

  it('prints a table and renders a well-formed, self-contained HTML report with both charts', () => {
    const table = formatHelmTable(results);
    assert.match(table, /^superglue \| model /);
    assert.match(table, /robustness\s+fairness/);
    assert.match(table, /typos:0\.1\s+robustness/);
    const html = renderHelmHtml(results);
    const elements = parseHtmlStructure(html);
    assert.equal(elements.filter((e) => e.tag === 'script').length, 0);
    assert.doesNotMatch(html.replace(/xmlns="http:\/\/www\.w3\.org\/2000\/svg"/g, ''), /https?:\/\//, 'no external resource');
    const svgs = elements.filter((e) => e.tag === 'svg');
    assert.equal(svgs.length, 2);
    const ids = new Set(elements.map((e) => e.attributes.id).filter(Boolean));
    for (const id of ['summary', 'tasks', 'reliability', 'perturbation-chart', 'perturbations', 'generations', 'efficiency', 'provenance']) assert.ok(ids.has(id), id);
    const binRects = elements.filter((e) => e.tag === 'rect' && e.attributes.class === 'bin');
    assert.equal(binRects.length, results.overall.calibration.bins.filter((b) => b.count > 0).length);
    const bars = elements.filter((e) => e.tag === 'rect' && e.attributes.class === 'bar');
    assert.equal(bars.length, 1 + results.perturbations.length + 2);
    for (const bar of bars) assert.ok(Number(bar.attributes.width) >= 0 && Number(bar.attributes.width) <= 300);
  });

  it('runs from the command line and writes the results JSON and the HTML report', () => {
    const out = join(work, 'cli-out');
    const stdout = execFileSync(process.execPath, [join(repoRoot, 'dist', 'src', 'cli', 'main.js'), 'helm', 'superglue', '--model', modelDir, '--data-dir', join(fixtures, 'superglue'), '--tasks', 'cb', '--limit', '3', '--max-length', '256', '--perturbations', 'lowercase,gender_pronouns', '--generation-limit', '2', '--max-new-tokens', '4', '--cache-dir', join(work, 'cli-cache'), '--backend', 'typescript', '--out', out], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.match(stdout, /^cb\s+3\s/m);
    const written = JSON.parse(readFileSync(join(out, 'helm-results.json'), 'utf8')) as { format_version: number; perturbations: { key: string }[]; generation: { records: unknown[] }; efficiency: Record<string, Record<string, unknown>> };
    assert.equal(written.format_version, 2);
    assert.deepEqual(written.perturbations.map((p) => p.key), ['lowercase', 'gender_pronouns:1']);
    assert.equal(written.generation.records.length, 2);
    assert.ok('tokens_per_second' in written.efficiency.scoring && 'peak_resident_bytes' in written.efficiency);
    const keys = (value: unknown): string[] =>
      typeof value !== 'object' || value === null ? [] : Array.isArray(value) ? value.flatMap(keys) : Object.entries(value).flatMap(([k, v]) => [k, ...keys(v)]);
    assert.deepEqual(keys(written).filter((k) => /[a-z][A-Z]/.test(k) && !['rougeL', 'rougeLsum'].includes(k)), [], 'every field of helm-results.json is snake_case');
    const json = JSON.parse(execFileSync(process.execPath, [join(repoRoot, 'dist', 'src', 'cli', 'main.js'), 'helm', 'superglue', '--model', modelDir, '--data-dir', join(fixtures, 'superglue'), '--tasks', 'cb', '--limit', '3', '--max-length', '256', '--perturbations', 'lowercase', '--generation-limit', '0', '--cache-dir', join(work, 'cli-cache'), '--backend', 'typescript', '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })) as { format: string; tasks: { name: string; worst_case: unknown }[] };
    assert.equal(json.format, 'tuneloop-helm-results');
    assert.ok(json.tasks[0].worst_case, '--json prints the same snake_case results');
    parseHtmlStructure(readFileSync(join(out, 'report.html'), 'utf8'));
    const help = execFileSync(process.execPath, [join(repoRoot, 'dist', 'src', 'cli', 'main.js'), 'helm', '--help'], { encoding: 'utf8' });
    assert.match(help, /tuneloop helm mmlu\|superglue\|FILE\.yaml/);
  });

  it('rejects a field that holds the gold label', async () => {
    await assert.rejects(runHelmReport(model, tokenizer, suite(), 'x', { ...options(undefined), selection: { tasks: ['cb'], limit: 1 }, fields: { input: ['label'] } }), /gold answer/);
  });
});

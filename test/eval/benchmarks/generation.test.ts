import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TypeScriptBackend } from '../../../src/engine/backends/typescript.js';
import { DatasetError } from '../../../src/errors.js';
import { GenerationCache, generationKey } from '../../../src/eval/benchmarks/cache.js';
import { type BenchmarkSuite, loadBenchmarkSuite } from '../../../src/eval/benchmarks/definition.js';
import { formatResultsTable } from '../../../src/eval/benchmarks/report.js';
import { type BenchmarkResults, buildGenerationPrompts, prepareTasks, runBenchmark } from '../../../src/eval/benchmarks/runner.js';
import { SHIPPED_BENCHMARKS, resolveSuite } from '../../../src/eval/benchmarks/suites.js';
import { cleanGeneration } from '../../../src/eval/benchmarks/text-scoring.js';
import { corpusBleu, bleuSignature } from '../../../src/eval/metrics/bleu.js';
import { corpusChrf } from '../../../src/eval/metrics/chrf.js';
import { corpusRouge } from '../../../src/eval/metrics/rouge.js';
import { corpusTer } from '../../../src/eval/metrics/ter.js';
import { generate } from '../../../src/inference/generate.js';
import { BloomModel } from '../../../src/models/bloom/model.js';
import { BLOOM_SPECIAL_TOKENS_MAP, BLOOM_TOKENIZER_CONFIG, trainByteLevelBpe } from '../../../src/tokenizer/bpe-trainer.js';
import { type BloomTokenizer, loadTokenizer } from '../../../src/tokenizer/tokenizer.js';
import { referenceDir, repoRoot } from '../../helpers/paths.js';

/**
 * Generation tasks end to end on the tiny reference checkpoint (vocabulary 512) with a byte-level BPE
 * trained here on the fixture texts. The summaries are noise; what is checked is that the metrics are
 * the metric functions applied to the cached generations, the cache, and errors that name file and line.
 */
const fixtures = join(repoRoot, 'test', 'fixtures', 'eval');
let work: string;
let modelDir: string;
let model: BloomModel;
let tokenizer: BloomTokenizer;
let xsum: BenchmarkSuite;
let cnn: BenchmarkSuite;
let wmt17: BenchmarkSuite;
const settings = { batchSize: 2, maxLength: 192, bootstrap: { samples: 200, seed: 7, confidence: 0.95 } };

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'tuneloop-generation-'));
  modelDir = join(work, 'model');
  mkdirSync(modelDir);
  for (const f of ['config.json', 'model.safetensors']) copyFileSync(join(referenceDir, 'ckpt_a', f), join(modelDir, f));
  const texts = [join(fixtures, 'xsum', 'test.jsonl'), join(fixtures, 'cnn_dailymail', 'cnn_test_15.jsonl')].map((f) => readFileSync(f, 'utf8'));
  writeFileSync(join(modelDir, 'tokenizer.json'), JSON.stringify(trainByteLevelBpe(texts, { vocabSize: 512 })));
  writeFileSync(join(modelDir, 'tokenizer_config.json'), JSON.stringify(BLOOM_TOKENIZER_CONFIG));
  writeFileSync(join(modelDir, 'special_tokens_map.json'), JSON.stringify(BLOOM_SPECIAL_TOKENS_MAP));
  tokenizer = await loadTokenizer(modelDir);
  model = BloomModel.load(modelDir, { backend: new TypeScriptBackend(), dtype: 'f32' });
  xsum = loadBenchmarkSuite(join(repoRoot, 'benchmarks', 'xsum.yaml'), { dataDir: join(fixtures, 'xsum') });
  cnn = loadBenchmarkSuite(join(repoRoot, 'benchmarks', 'cnn_dailymail.yaml'), { dataDir: join(fixtures, 'cnn_dailymail') });
  wmt17 = loadBenchmarkSuite(join(repoRoot, 'benchmarks', 'wmt17.yaml'), { dataDir: join(fixtures, 'wmt17') });
});

after(() => execFileSync('rm', ['-rf', work]));

/** The cached generation texts of a suite's first task, read back through the cache's own keys. */
async function cachedPredictions(suite: BenchmarkSuite, cacheDir: string, modelHash: string): Promise<{ predictions: string[]; references: string[]; raw: string[] }> {
  const [task] = await prepareTasks(suite, {});
  const scoring = task.definition.scoring;
  assert.equal(scoring.type, 'generate');
  if (scoring.type !== 'generate') throw new Error('unreachable');
  const prompts = buildGenerationPrompts(tokenizer, task.items, scoring, settings.maxLength);
  const cache = new GenerationCache(cacheDir, modelHash, null);
  const raw = prompts.map((p) => cache.get(generationKey(p, scoring))!.text);
  return { raw, predictions: raw.map((t) => cleanGeneration(t, scoring.until)), references: task.items.map((i) => i.reference!) };
}

describe('generation tasks on the reference checkpoint', () => {
  let first: BenchmarkResults;
  const cacheDir = () => join(work, 'cache-xsum');

  it('the HELM XSum prompt: document truncated and cleaned, the instruction last', async () => {
    const [task] = await prepareTasks(xsum, { limit: 1 });
    const document = JSON.parse(readFileSync(join(fixtures, 'xsum', 'test.jsonl'), 'utf8').split('\n')[0]).document as string;
    assert.equal(task.items[0].context, `###\nArticle: ${document.split(/\s+/).filter((w) => w !== '').join(' ')}\n\nSummarize the above article in 1 sentence.`);
    const [withShot] = await prepareTasks(xsum, { limit: 1, shots: 1 });
    assert.match(withShot.items[0].context, /^###\nArticle: [^]*\n\nSummarize the above article in 1 sentence\.\n[^\n]+\n\n###\nArticle: /);
  });

  it('ROUGE of the run equals rouge-score (stemmed) on the cached generations, with intervals and signatures', async () => {
    first = await runBenchmark(model, tokenizer, xsum, 'test-sha', { ...settings, adapters: [null], cacheDir: cacheDir() });
    const run = first.runs[0];
    assert.equal(run.generations, 3);
    assert.equal(run.computed_generations, 3);
    assert.equal(run.requests, 0);
    const { predictions, references, raw } = await cachedPredictions(xsum, cacheDir(), first.model.sha256);
    assert.ok(raw.every((t) => t.length > 0), 'the model generated text for every item');
    const direct = corpusRouge(predictions, references.map((r) => [r]), { stem: true });
    const task = run.tasks[0];
    for (const type of ['rouge1', 'rouge2', 'rougeL', 'rougeLsum']) {
      assert.equal(task.metrics[type], direct.mean[type].fmeasure, type);
      const interval = task.intervals![type];
      assert.ok(interval.lower <= task.metrics[type] + 1e-12 && task.metrics[type] <= interval.upper + 1e-12, `${type} lies in its interval`);
      assert.equal(task.signatures![type], direct.signature);
    }
    assert.match(task.signatures!.rouge1, /stem:yes/);
    assert.deepEqual(first.settings.bootstrap, settings.bootstrap);
    assert.equal(first.tasks.xsum.scoring, 'generate');
    assert.deepEqual(first.tasks.xsum.generation, { until: ['###'], max_new_tokens: 64, decoding: 'greedy' });
    const table = formatResultsTable(first);
    assert.match(table, /^xsum\s+3\s+0\s+\d\.\d{4} \[\d\.\d{4}, \d\.\d{4}\]/m);
    assert.match(table, /3 generations \(3 generated, 0 cached\)/);
    assert.match(table, /rouge1: nrefs:1\|case:lc\|tok:rouge-score\|stem:yes/);
  });

  it('a rerun generates nothing, and a run without the cache gives the same numbers', async () => {
    const again = await runBenchmark(model, tokenizer, xsum, 'test-sha', { ...settings, adapters: [null], cacheDir: cacheDir() });
    assert.equal(again.runs[0].computed_generations, 0);
    assert.deepEqual(again.runs[0].tasks, first.runs[0].tasks);
    const uncached = await runBenchmark(model, tokenizer, xsum, 'test-sha', { ...settings, adapters: [null] });
    assert.equal(uncached.runs[0].computed_generations, 3);
    assert.deepEqual(uncached.runs[0].tasks, first.runs[0].tasks);
  });

  it('generations equal one direct generate() call per prompt, cut at the stop string', async () => {
    const [task] = await prepareTasks(cnn, {});
    const scoring = task.definition.scoring;
    if (scoring.type !== 'generate') throw new Error('cnn_dailymail generates');
    const results = await runBenchmark(model, tokenizer, cnn, 'test-sha', { ...settings, adapters: [null], cacheDir: join(work, 'cache-cnn') });
    const prompts = buildGenerationPrompts(tokenizer, task.items, scoring, settings.maxLength);
    assert.ok(prompts.every((p) => p.length === settings.maxLength - scoring.maxNewTokens), 'long articles keep their last tokens');
    const { raw, predictions, references } = await cachedPredictions(cnn, join(work, 'cache-cnn'), results.model.sha256);
    prompts.forEach((prompt, i) => {
      const alone = generate(model, [prompt], { maxNewTokens: scoring.maxNewTokens, strategy: { kind: 'greedy' }, stop: { sequences: scoring.until, decode: (ids) => tokenizer.decode(ids, { skipSpecialTokens: true }) } });
      assert.equal(raw[i], tokenizer.decode(alone.rows[0].newTokens, { skipSpecialTokens: true }), `item ${i}`);
    });
    const direct = corpusRouge(predictions, references.map((r) => [r]), { stem: true });
    assert.equal(results.runs[0].tasks[0].metrics.rougeL, direct.mean.rougeL.fmeasure);
  });

  it('rescoring recorded system outputs equals sacreBLEU-exact corpus BLEU, chrF and TER of the files', async () => {
    const results = await runBenchmark(model, tokenizer, wmt17, 'test-sha', { ...settings, selection: { subsets: ['online-B.0', 'uedin-nmt.4722'] }, adapters: [null] });
    const lines = (f: string) => readFileSync(join(fixtures, 'wmt17', f), 'utf8').split('\n').slice(0, -1);
    const references = lines('newstest2017-ende-ref.de').map((r) => [r.trimEnd()]);
    for (const [i, system] of ['online-B.0', 'uedin-nmt.4722'].entries()) {
      const hypotheses = lines(`newstest2017.${system}.en-de`).map((h) => h.trimEnd());
      const task = results.runs[0].tasks[i];
      assert.equal(task.name, `en_de_system_${system}`);
      assert.equal(task.items, 6);
      assert.equal(task.metrics.bleu, corpusBleu(hypotheses, references).score);
      assert.equal(task.metrics.chrf, corpusChrf(hypotheses, references).score);
      assert.equal(task.metrics.ter, corpusTer(hypotheses, references).score);
      assert.equal(task.signatures!.bleu, bleuSignature({}, [1]));
    }
    assert.equal(results.runs[0].generations + results.runs[0].requests, 0, 'no model output involved');
  });

  it('bootstrap intervals are seeded: the same seed gives the same interval, another seed another', async () => {
    const run = (seed: number) => runBenchmark(model, tokenizer, wmt17, 'test-sha', { ...settings, bootstrap: { samples: 300, seed, confidence: 0.9 }, selection: { subsets: ['online-B.0'] }, adapters: [null] });
    const [a, b, c] = [await run(1), await run(1), await run(2)];
    assert.deepEqual(a.runs[0].tasks[0].intervals, b.runs[0].tasks[0].intervals);
    assert.notDeepEqual(a.runs[0].tasks[0].intervals, c.runs[0].tasks[0].intervals);
    const off = await runBenchmark(model, tokenizer, wmt17, 'test-sha', { ...settings, bootstrap: null, selection: { subsets: ['online-B.0'] }, adapters: [null] });
    assert.equal(off.runs[0].tasks[0].intervals, null);
    assert.equal(off.runs[0].tasks[0].metrics.bleu, a.runs[0].tasks[0].metrics.bleu);
  });
});

describe('shipped definitions', () => {
  it('every shipped suite loads, and the text suites score what their comments say', () => {
    for (const name of SHIPPED_BENCHMARKS) assert.ok(resolveSuite(name).suite.tasks.length > 0, name);
    assert.deepEqual(xsum.tasks[0].metrics, ['rouge1', 'rouge2', 'rougeL', 'rougeLsum']);
    assert.equal(cnn.tasks[0].rougeUseStemmer, true);
    assert.equal(wmt17.tasks[0].subsets!.length, 16);
    assert.equal(resolveSuite('wmt17_translate').suite.tasks[0].scoring.type, 'generate');
  });
});

describe('generation task data errors name file and line', () => {
  const scratch = (files: Record<string, string>): string => {
    const dir = mkdtempSync(join(work, 'data-'));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return dir;
  };
  const rejectsAt = async (suite: string, dir: string, file: string, line: number | undefined, pattern: RegExp) => {
    const loaded = loadBenchmarkSuite(join(repoRoot, 'benchmarks', suite), { dataDir: dir });
    await assert.rejects(prepareTasks(loaded, {}), (e: unknown) => {
      assert.ok(DatasetError.isInstance(e), String(e));
      assert.equal(e.file, join(dir, file));
      assert.equal(e.line, line);
      assert.match(e.message, pattern);
      return true;
    });
  };

  it('a malformed JSONL row, or one without the summary', async () => {
    const good = '{"id": "1", "document": "A short article.", "summary": "Short."}';
    await rejectsAt('xsum.yaml', scratch({ 'test.jsonl': `${good}\n{"id": "2", "document": \n` }), 'test.jsonl', 2, /test\.jsonl:2: is not valid JSON/);
    await rejectsAt('xsum.yaml', scratch({ 'test.jsonl': `${good}\n${good}\n{"id": "3", "document": "x"}\n` }), 'test.jsonl', 3, /test\.jsonl:3: field "summary" is missing/);
    await rejectsAt('cnn_dailymail.yaml', scratch({ 'cnn_test_15.jsonl': '{"article": "a", "highlights": "h"}\n{"article": "b", "highlights": 5}\n' }), 'cnn_test_15.jsonl', 2, /cnn_test_15\.jsonl:2: doc_to_target: \.split\(\) needs a string, got a number/);
  });

  it('line-aligned files of different lengths, and the missing WMT17 source', async () => {
    const dir = scratch({ 'newstest2017-ende-ref.de': 'a\nb\nc\n', 'newstest2017.online-B.0.en-de': 'a\nb\n' });
    const loaded = loadBenchmarkSuite(join(repoRoot, 'benchmarks', 'wmt17.yaml'), { dataDir: dir });
    await assert.rejects(prepareTasks(loaded, { subsets: ['online-B.0'] }), (e: unknown) => DatasetError.isInstance(e) && e.file === join(dir, 'newstest2017.online-B.0.en-de') && /has 2 lines but .*newstest2017-ende-ref\.de \(field "reference"\) has 3/.test(e.message));
    await rejectsAt('wmt17_translate.yaml', join(fixtures, 'wmt17'), 'newstest2017-ende-src.en', undefined, /newstest2017-ende-src\.en: not found/);
  });
});

describe('tuneloop bench on a generation task', () => {
  it('prints ROUGE with intervals; a second run comes from the cache', () => {
    const cli = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
    const out = join(work, 'xsum.json');
    const args = [cli, 'bench', 'xsum', '--model', modelDir, '--limit', '2', '--max-length', '160', '--bootstrap', '100', '--data-dir', join(fixtures, 'xsum'), '--cache-dir', join(work, 'cli-cache'), '--backend', 'typescript', '--out', out];
    const table = execFileSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.match(table, /^xsum\s+2\s+0\s+\d\.\d{4} \[\d\.\d{4}, \d\.\d{4}\]/m);
    const results = JSON.parse(readFileSync(out, 'utf8')) as BenchmarkResults;
    assert.equal(results.runs[0].computed_generations, 2);
    assert.equal(results.settings.bootstrap!.samples, 100);
    execFileSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.equal((JSON.parse(readFileSync(out, 'utf8')) as BenchmarkResults).runs[0].computed_generations, 0);
    assert.equal(readdirSync(join(work, 'cli-cache')).filter((f) => f.endsWith('.generations.jsonl')).length, 1);
  });
});

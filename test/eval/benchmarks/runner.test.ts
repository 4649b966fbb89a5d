import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TypeScriptBackend } from '../../../src/engine/backends/typescript.js';
import { ScoreCache } from '../../../src/eval/benchmarks/cache.js';
import { type BenchmarkSuite, loadBenchmarkSuite } from '../../../src/eval/benchmarks/definition.js';
import { type BenchmarkResults, buildRequests, encodePair, prepareTasks, runBenchmark, scoreWithCache } from '../../../src/eval/benchmarks/runner.js';
import { scoreLoglikelihood } from '../../../src/inference/score.js';
import { BloomModel } from '../../../src/models/bloom/model.js';
import { BLOOM_SPECIAL_TOKENS_MAP, BLOOM_TOKENIZER_CONFIG, trainByteLevelBpe } from '../../../src/tokenizer/bpe-trainer.js';
import { type BloomTokenizer, loadTokenizer } from '../../../src/tokenizer/tokenizer.js';
import { referenceDir, repoRoot } from '../../helpers/paths.js';

/**
 * End to end on the tiny reference checkpoint (vocabulary 512) with a 512-token byte-level BPE trained
 * here on the sample items, so that text maps into the checkpoint's vocabulary. Accuracy is near chance;
 * what is checked is structure, determinism, the cache and equality with direct scoreLoglikelihood calls.
 */
const fixtures = join(repoRoot, 'test', 'fixtures', 'eval');
let modelDir: string;
let work: string;
let model: BloomModel;
let tokenizer: BloomTokenizer;
let superglue: BenchmarkSuite;
let mmlu: BenchmarkSuite;
const loraDir = join(referenceDir, 'ref_a', 'lora_adapter');

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'tuneloop-bench-'));
  modelDir = join(work, 'model');
  execFileSync('mkdir', ['-p', modelDir]);
  for (const f of ['config.json', 'model.safetensors']) copyFileSync(join(referenceDir, 'ckpt_a', f), join(modelDir, f));
  const texts = readdirSync(join(fixtures, 'superglue')).map((t) => readFileSync(join(fixtures, 'superglue', t, 'val.jsonl'), 'utf8'));
  writeFileSync(join(modelDir, 'tokenizer.json'), JSON.stringify(trainByteLevelBpe(texts, { vocabSize: 512 })));
  writeFileSync(join(modelDir, 'tokenizer_config.json'), JSON.stringify(BLOOM_TOKENIZER_CONFIG));
  writeFileSync(join(modelDir, 'special_tokens_map.json'), JSON.stringify(BLOOM_SPECIAL_TOKENS_MAP));
  tokenizer = await loadTokenizer(modelDir);
  model = BloomModel.load(modelDir, { backend: new TypeScriptBackend(), dtype: 'f32' });
  superglue = loadBenchmarkSuite(join(repoRoot, 'benchmarks', 'superglue.yaml'), { dataDir: join(fixtures, 'superglue') });
  mmlu = loadBenchmarkSuite(join(repoRoot, 'benchmarks', 'mmlu.yaml'), { dataDir: join(fixtures, 'mmlu') });
});

after(() => execFileSync('rm', ['-rf', work]));

const settings = { batchSize: 4, maxLength: 256 };
const selection = { tasks: ['cb', 'copa', 'multirc'], limit: 5 };

describe('encodePair', () => {
  it('moves the context\'s trailing whitespace to the continuation, as lm-eval', () => {
    const request = encodePair(tokenizer, 'Answer: ', 'yes');
    assert.deepEqual(request.context, tokenizer.encode('Answer:'));
    assert.deepEqual([...request.context, ...request.continuation], tokenizer.encode('Answer: yes'));
  });
});

describe('benchmark runner on the reference checkpoint', () => {
  let first: BenchmarkResults;

  it('produces per-task metrics, groups and a record of what ran', async () => {
    const cacheDir = join(work, 'cache-structure');
    first = await runBenchmark(model, tokenizer, superglue, 'test-sha', { ...settings, selection, adapters: [null], cacheDir });
    assert.equal(first.runs.length, 1);
    const run = first.runs[0];
    assert.deepEqual(
      run.tasks.map((t) => t.name),
      ['cb', 'copa', 'multirc'],
    );
    assert.deepEqual(Object.keys(run.tasks[0].metrics), ['acc', 'f1_macro']);
    assert.deepEqual(Object.keys(run.tasks[2].metrics), ['acc', 'exact_match_grouped', 'f1a']);
    for (const t of run.tasks) for (const v of Object.values(t.metrics)) assert.ok(v >= 0 && v <= 1);
    // 5 CB items x 3 choices + 4 COPA items (the fixture has 4) x 2 + 5 MultiRC answers x 2
    assert.equal(run.requests, 15 + 8 + 10);
    assert.equal(run.computed_requests, run.requests);
    assert.equal(first.tasks.cb.items, 5);
    assert.equal(first.tasks.cb.fewshot.sampler, 'random');
    assert.match(first.tasks.cb.data_sha256, /^[0-9a-f]{64}$/);
    assert.equal(first.tasks.cb.template.doc_to_text, '{{premise}}\nQuestion: {{hypothesis}}. True, False, or Neither?\nAnswer:');
    assert.match(first.model.sha256, /^[0-9a-f]{64}$/);
    assert.equal(first.metric_versions.acc, 1);
  });

  it('is deterministic, and a rerun is served entirely from the cache', async () => {
    const cacheDir = join(work, 'cache-structure');
    const again = await runBenchmark(model, tokenizer, superglue, 'test-sha', { ...settings, selection, adapters: [null], cacheDir });
    assert.equal(again.runs[0].computed_requests, 0);
    assert.deepEqual(again.runs[0].tasks, first.runs[0].tasks);
    const uncached = await runBenchmark(model, tokenizer, superglue, 'test-sha', { ...settings, selection, adapters: [null] });
    assert.equal(uncached.runs[0].computed_requests, uncached.runs[0].requests);
    assert.deepEqual(uncached.runs[0].tasks, first.runs[0].tasks);
  });

  it('scores equal direct scoreLoglikelihood calls', async () => {
    const tasks = await prepareTasks(superglue, selection);
    const requests = tasks.flatMap((t) => buildRequests(tokenizer, t.items, t.definition.targetDelimiter).flat());
    const direct = scoreLoglikelihood(model, requests, settings);
    const viaRunner = scoreWithCache(model, requests, new ScoreCache(undefined, 'm', null), { ...settings, chunk: 7 });
    viaRunner.scores.forEach((s, i) => {
      assert.ok(Math.abs(s.logLikelihood - direct[i].logLikelihood) < 1e-4, `request ${i}: ${s.logLikelihood} vs ${direct[i].logLikelihood}`);
      assert.equal(s.isGreedy, direct[i].isGreedy);
    });
  });

  it('resumes a killed run: only requests missing from the cache are scored again', async () => {
    const cacheDir = join(work, 'cache-resume');
    const complete = await runBenchmark(model, tokenizer, superglue, 'test-sha', { ...settings, selection, adapters: [null], cacheDir });
    const file = join(cacheDir, readdirSync(cacheDir).find((f) => f.endsWith('-base.jsonl'))!);
    const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
    // What a run killed mid-write leaves: the first 20 entries and half of the 21st.
    writeFileSync(file, `${lines.slice(0, 20).join('\n')}\n${lines[20].slice(0, 15)}`);
    const resumed = await runBenchmark(model, tokenizer, superglue, 'test-sha', { ...settings, selection, adapters: [null], cacheDir });
    assert.equal(resumed.runs[0].computed_requests, lines.length - 20);
    assert.deepEqual(resumed.runs[0].tasks, complete.runs[0].tasks);
  });

  it('evaluates several adapters on one loaded base model, detaching each', async () => {
    const both = await runBenchmark(model, tokenizer, mmlu, 'test-sha', { ...settings, selection: { subsets: ['sociology'], shots: 1 }, adapters: [null, loraDir, null] });
    const [base, lora, baseAgain] = both.runs;
    assert.equal(base.adapter, null);
    assert.equal(lora.adapter!.dir, loraDir);
    assert.match(lora.adapter!.sha256, /^[0-9a-f]{64}$/);
    assert.deepEqual(baseAgain.tasks, base.tasks, 'the LoRA adapter is detached after its run');
    assert.equal(model.linearAdapter, undefined);
    const tasks = await prepareTasks(mmlu, { subsets: ['sociology'], shots: 1 });
    const requests = buildRequests(tokenizer, tasks[0].items, ' ').flat();
    const cacheDir = join(work, 'cache-adapters');
    await runBenchmark(model, tokenizer, mmlu, 'test-sha', { ...settings, selection: { subsets: ['sociology'], shots: 1 }, adapters: [loraDir], cacheDir });
    assert.equal(readdirSync(cacheDir).filter((f) => f.endsWith('.jsonl') && !f.endsWith('-base.jsonl')).length, 1, 'adapter outputs are cached under the adapter hash');
    assert.equal(requests.length, 12);
    assert.deepEqual(Object.keys(both.runs[0].groups).sort(), ['social_sciences']);
  });
});

describe('tuneloop bench', () => {
  it('runs a definition file and writes results; a second run comes from the cache', () => {
    const out = join(work, 'results.json');
    const cli = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
    const args = [cli, 'bench', 'superglue', '--model', modelDir, '--tasks', 'boolq,wsc', '--limit', '3', '--data-dir', join(fixtures, 'superglue'), '--cache-dir', join(work, 'cli-cache'), '--backend', 'typescript', '--out', out];
    const table = execFileSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.match(table, /^boolq\s+3\s+0\s+\d\.\d{4} \[\d\.\d{4}, \d\.\d{4}\]$/m);
    assert.match(table, /^wsc\s+3\s+0\s+\d\.\d{4} \[\d\.\d{4}, \d\.\d{4}\]$/m);
    const results = JSON.parse(readFileSync(out, 'utf8')) as BenchmarkResults;
    assert.equal(results.runs[0].computed_requests, 12);
    execFileSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.equal((JSON.parse(readFileSync(out, 'utf8')) as BenchmarkResults).runs[0].computed_requests, 0);
  });
});

/**
 * One benchmark step in its own process, so peak resident memory is this step's alone and the
 * runner stays small (Linux carries a parent's peak RSS into the children it spawns).
 * Usage: node dist/bench/worker.js TASK MODEL_DIR [DTYPE] [ITEMS_FILE | NEW_TOKENS]
 *   TASK: checkpoint (write the random model) | checkpoint-small (the small one of the busy-machine rows)
 *         | matmul (engine GFLOP/s) | load | score | decode (NEW_TOKENS, default 64)
 *         | train-lora (LoRA r=8, alpha 16 on query_key_value) | train-prompt (prompt tuning, 20 virtual tokens)
 *         | mmlu (MMLU items/s on the items of ITEMS_FILE)
 *         node dist/bench/worker.js mmlu-items ITEMS_FILE   (writes the MMLU items, see mmlu-items.ts)
 * Prints one JSON object on stdout. TUNELOOP_THREADS sets the native backend's threads.
 */
import { readFileSync } from 'node:fs';
import { scoreWithCache } from '../src/eval/benchmarks/runner.js';
import { ScoreCache } from '../src/eval/benchmarks/cache.js';
import type { NativeBackend } from '../src/engine/backends/native.js';
import { type BackendChoice, selectBackend } from '../src/engine/select-backend.js';
import { generate } from '../src/inference/generate.js';
import { scoreRolling } from '../src/inference/score.js';
import { scoreLoglikelihoodShared } from '../src/inference/shared-prefix-score.js';
import { SeededRandom } from '../src/inference/sampling.js';
import { BloomModel } from '../src/models/bloom/model.js';
import { parseBloomConfig } from '../src/models/bloom/config.js';
import { writeRandomBloomCheckpoint } from '../src/models/bloom/random-init.js';
import { createLoraAdapter } from '../src/peft/lora/model.js';
import { createPromptTuningAdapter } from '../src/peft/prompt-tuning/model.js';
import { type Trainables, forwardBackward } from '../src/train/bloom-backward.js';
import { AdamW } from '../src/train/optimizer.js';
import { trainableParameters } from '../src/train/trainable-parameters.js';
import { asTrainingBackend } from '../src/engine/training-backend.js';
import { measureMatmulGflops } from './matmul.js';
import { readMmluItems, writeMmluItems } from './mmlu-items.js';

// taskArgument: ITEMS_FILE for mmlu, NEW_TOKENS for decode.
const [task, modelDir, dtypeName, taskArgument] = process.argv.slice(2);
const dtype = dtypeName === 'bf16' ? 'bf16' : 'f32';

/** Peak resident memory of this process (VmHWM), in MB: unlike getrusage, it starts afresh at exec. */
function peakRssMb(): number {
  const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return match ? Number(match[1]) / 1024 : process.resourceUsage().maxRSS / 1024;
}

if (task === 'checkpoint') {
  const config = parseBloomConfig({ vocab_size: 250880, hidden_size: 1024, n_layer: 24, n_head: 16, bos_token_id: 1, eos_token_id: 2, pad_token_id: 3 });
  writeRandomBloomCheckpoint(modelDir, config, { seed: 560 });
  process.stdout.write(`${JSON.stringify({ task, modelDir })}\n`);
  process.exit(0);
}
if (task === 'checkpoint-small') {
  // The demo model's shape (src/models/demo-model.ts): a decoding step is dozens of tiny ops, where
  // threads cost the most synchronisation.
  const config = parseBloomConfig({ vocab_size: 2000, hidden_size: 256, n_layer: 4, n_head: 8, bos_token_id: 1, eos_token_id: 2, pad_token_id: 3 });
  writeRandomBloomCheckpoint(modelDir, config, { seed: 256 });
  process.stdout.write(`${JSON.stringify({ task, modelDir })}\n`);
  process.exit(0);
}
if (task === 'mmlu-items') {
  const { items } = await writeMmluItems(modelDir);
  process.stdout.write(`${JSON.stringify({ task, file: modelDir, items: items.length })}\n`);
  process.exit(0);
}
if (task === 'matmul') {
  process.stdout.write(`${JSON.stringify(measureMatmulGflops())}\n`);
  process.exit(0);
}

const backend = await selectBackend((process.env.TUNELOOP_BACKEND as BackendChoice | undefined) ?? 'auto');

const loadStarted = performance.now();
const model = BloomModel.load(modelDir, { backend, dtype });
const loadSeconds = (performance.now() - loadStarted) / 1000;
const peakRssAfterLoadMb = peakRssMb();

function randomIds(count: number, seed: number): number[] {
  const random = new SeededRandom(seed);
  return Array.from({ length: count }, () => 4 + Math.floor(random.next() * (model.config.vocabSize - 4)));
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const threads = backend.name === 'native' ? (backend as NativeBackend).threads() : 1;
const report: Record<string, unknown> = { task, dtype, backend: backend.name, threads, load_seconds: loadSeconds, peak_rss_after_load_mb: peakRssAfterLoadMb };

if (task === 'score') {
  // 8 rows of 128 tokens; every position's next token is scored, lm_head included (as the peer does).
  const rows = Array.from({ length: 8 }, (_, i) => randomIds(128, 100 + i));
  const run = () => {
    const started = performance.now();
    scoreRolling(model, rows.map((r) => r.slice(0, 128)), { batchSize: 8 });
    return (performance.now() - started) / 1000;
  };
  run(); // warm-up: primitive creation, page faults
  const times: number[] = [];
  const budgetStarted = performance.now();
  while (times.length < 3 || (times.length < 15 && performance.now() - budgetStarted < 20_000)) times.push(run());
  report.score_runs = times.length;
  report.score_seconds_median = median(times);
  report.score_tokens_per_s = 1024 / median(times);
} else if (task === 'decode') {
  const newTokens = taskArgument === undefined ? 64 : Number(taskArgument);
  const prompt = randomIds(32, 7);
  generate(model, [prompt], { maxNewTokens: 4, strategy: { kind: 'greedy' }, eosTokenId: null }); // warm-up
  const runs: { prefillMs: number; decodeMs: number }[] = [];
  const budgetStarted = performance.now();
  while (runs.length < 1 || (runs.length < 3 && performance.now() - budgetStarted < 30_000)) {
    const result = generate(model, [prompt], { maxNewTokens: newTokens, strategy: { kind: 'greedy' }, eosTokenId: null });
    runs.push({ prefillMs: result.prefillMs, decodeMs: result.decodeMs });
  }
  const decodeSeconds = median(runs.map((r) => r.decodeMs)) / 1000;
  const prefillSeconds = median(runs.map((r) => r.prefillMs)) / 1000;
  // Like the peer: the prefill yields token 1; the other cached single-token steps are the decode.
  report.decode_runs = runs.length;
  report.new_tokens = newTokens;
  report.prefill_seconds = prefillSeconds;
  report.decode_tokens_per_s = (newTokens - 1) / decodeSeconds;
  report.generate_tokens_per_s = newTokens / (prefillSeconds + decodeSeconds);
} else if (task === 'mmlu') {
  // The benchmark runner's scoring path (scoreWithCache, the disk cache off) over every item's four
  // requests; the clock covers all the model work, the shared few-shot prefixes included.
  const { items, max_length: maxLength } = readMmluItems(taskArgument);
  const requests = items.flatMap((item) => item.requests);
  const run = () => {
    const started = performance.now();
    const { scores } = scoreWithCache(model, requests, new ScoreCache(undefined, 'bench', null), { batchSize: 8, maxLength });
    return { seconds: (performance.now() - started) / 1000, scores };
  };
  scoreLoglikelihoodShared(model, items[0].requests, { maxLength }); // warm-up: primitive creation, page faults
  const runs = [run()];
  if (runs[0].seconds < 40) runs.push(run());
  let cursor = 0;
  const loglikelihoods = items.map((item) => item.requests.map(() => runs[0].scores[cursor++].logLikelihood));
  const answers = loglikelihoods.map((lls) => lls.indexOf(Math.max(...lls)));
  report.mmlu_items = items.length;
  report.mmlu_requests = requests.length;
  report.mmlu_runs = runs.length;
  report.mmlu_seconds_median = median(runs.map((r) => r.seconds));
  report.mmlu_items_per_s = items.length / median(runs.map((r) => r.seconds));
  report.mmlu_accuracy = answers.filter((a, i) => a === items[i].gold).length / items.length;
  report.mmlu_answers = answers;
  report.mmlu_loglikelihoods = loglikelihoods;
} else if (task === 'train-lora' || task === 'train-prompt') {
  // As bench/peer/train_peer.py: batch 4 x 128 random ids, no padding, labels = ids; one step is
  // forwardBackward (loss on the shifted labels) + an AdamW update (lr 1e-3, weight decay 0.01), no clipping.
  const batchSize = 4;
  const seqLen = 128;
  const random = new SeededRandom(11);
  const trainables: Trainables =
    task === 'train-lora'
      ? { lora: createLoraAdapter(model.config, { r: 8, loraAlpha: 16, loraDropout: 0, targetModules: ['query_key_value'], useRslora: false }, 'default', () => random.next()) }
      : { prompt: createPromptTuningAdapter(model, { numVirtualTokens: 20, tokenDim: model.config.hiddenSize, init: 'RANDOM', initText: null }, { random: () => random.next() }) };
  const ids = Int32Array.from(Array.from({ length: batchSize }, (_, b) => randomIds(seqLen, 200 + b)).flat());
  const batch = { ids, labels: ids, mask: new Uint8Array(ids.length).fill(1), batch: batchSize };
  const optimizer = new AdamW(asTrainingBackend(backend), trainableParameters(trainables), { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 });
  const losses: number[] = [];
  const step = () => {
    const started = performance.now();
    const { loss, grads } = forwardBackward(model, batch, trainables);
    optimizer.update(grads);
    losses.push(loss);
    return (performance.now() - started) / 1000;
  };
  const warmup = step(); // warm-up: primitive creation, page faults
  const times: number[] = [];
  const budgetStarted = performance.now();
  while (times.length < 3 || (times.length < 10 && performance.now() - budgetStarted < 60_000)) times.push(step());
  report.method = task === 'train-lora' ? 'lora' : 'prompt';
  report.trainable_parameters = [...trainableParameters(trainables).values()].reduce((n, p) => n + p.length, 0);
  report.train_warmup_seconds = warmup;
  report.train_steps = times.length;
  report.train_step_seconds_median = median(times);
  report.train_step_seconds_min = Math.min(...times);
  report.train_step_seconds_max = Math.max(...times);
  report.train_tokens_per_s = (batchSize * seqLen) / median(times);
  report.first_loss = losses[0];
  report.last_loss = losses[losses.length - 1];
}
report.peak_rss_mb = peakRssMb();
process.stdout.write(`${JSON.stringify(report)}\n`);

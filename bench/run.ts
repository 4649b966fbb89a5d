/**
 * `npm run bench`: tuneloop beside a plain-PyTorch BLOOM (bench/peer) on the same machine, in one run.
 *
 * Builds a random BLOOM-560m-shaped checkpoint (vocab 250880, hidden 1024, 24 layers, 16 heads) once,
 * then measures scoring (batch 8 x 128), greedy decoding (batch 1, prompt 32, 64 new tokens), peak
 * memory loading in bf16, and the engine's matmul GFLOP/s beside the machine's fp32 FMA peak. Every
 * tuneloop figure comes from its own process; the peer runs Debian's python3-torch at its best
 * settings (fp32 with OPENBLAS_CORETYPE=SkylakeX, or Haswell without AVX-512; bf16 autocast). Prints a table and writes
 * bench/out/results.json.
 *
 * Training (bench/peer/train_peer.py is the peer): one step of LoRA r=8 (alpha 16) on query_key_value
 * and of prompt tuning with 20 virtual tokens, batch 4 x 128 random ids, forward + shifted
 * cross-entropy + backward + AdamW, in fp32 and bf16; tokens/s = 512 / median step seconds.
 *
 * MMLU (bench/peer/mmlu_peer.py is the peer): items/s scoring 24 real MMLU items (6 from each of four
 * subjects, 5-shot; bench/mmlu-items.ts), the four choices of each by log-likelihood, in fp32 and bf16.
 * tuneloop goes through the benchmark runner's scoring; the peer scores as Hugging Face-based harnesses
 * do (logits at every position). Both read the same token ids; their chosen answers are compared.
 *
 * Busy machine: greedy decoding (batch 1, prompt 32, 256 new tokens) and a LoRA training step (as above)
 * of a small random BLOOM (the demo model's shape: hidden 256, 4 layers), each with two processes spinning
 * on the CPU beside it, at the default thread count and at TUNELOOP_THREADS=1 in the same run. The ratio
 * (default / one thread) shows what synchronising threads costs when they share the cores with other work.
 *
 * `--only infer`, `--only train`, `--only mmlu` or `--only busy` runs one part; its results go to
 * bench/out/results-PART.json, so a partial run leaves the last full run's results.json alone.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type MatmulReport, formatMatmulReport } from './matmul.js';

const { values } = parseArgs({
  options: {
    'skip-peer': { type: 'boolean', default: false },
    only: { type: 'string' },
    out: { type: 'string', default: 'bench/out' },
  },
});
if (values.only !== undefined && !['train', 'infer', 'mmlu', 'busy'].includes(values.only)) {
  throw new Error(`--only must be train, infer, mmlu or busy, got "${values.only}"`);
}
const runInfer = values.only === undefined || values.only === 'infer';
const runTrain = values.only === undefined || values.only === 'train';
const runMmlu = values.only === undefined || values.only === 'mmlu';
const runBusy = values.only === undefined || values.only === 'busy';
const outDir = values.out;
const modelDir = join(outDir, 'bloom-560m-random');
const smallModelDir = join(outDir, 'bloom-small-random');
const mmluItemsFile = join(outDir, 'mmlu-items.json');
const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

mkdirSync(outDir, { recursive: true });
function worker<T = Record<string, number | string>>(task: string, dtype = '', args = [modelDir, dtype], env: NodeJS.ProcessEnv = process.env): T {
  log(`tuneloop ${task} ${dtype} ${env.TUNELOOP_THREADS ? `(TUNELOOP_THREADS=${env.TUNELOOP_THREADS}) ` : ''}...`);
  const output = execFileSync(process.execPath, [join('dist', 'bench', 'worker.js'), task, ...args], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
  return JSON.parse(output.trim().split('\n').pop()!) as T;
}

if (runBusy && !existsSync(join(smallModelDir, 'model.safetensors'))) worker('checkpoint-small', '', [smallModelDir]);
if (values.only !== 'busy' && !existsSync(join(modelDir, 'model.safetensors'))) {
  log(`writing a random BLOOM-560m-shaped checkpoint to ${modelDir} (float32, ~2.2 GB) ...`);
  worker('checkpoint');
}

/**
 * The OpenBLAS kernels for the peer: Debian's OpenBLAS 0.3.21 misdetects AVX-512 processors such as
 * Zen 4 and falls back to slow kernels, so those get SkylakeX's; on a processor without AVX-512 those
 * kernels would stop at their first AVX-512 instruction, so Haswell's (AVX2 + FMA) are used. A value
 * the user set is kept.
 */
function openBlasCoreType(): string {
  if (process.env.OPENBLAS_CORETYPE) return process.env.OPENBLAS_CORETYPE;
  const flags = readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1].split(/\s+/) ?? [];
  return flags.includes('avx512f') ? 'SkylakeX' : 'Haswell';
}

function peer(mode: 'fp32' | 'bf16', method?: 'lora' | 'prompt' | 'mmlu'): Record<string, unknown> | undefined {
  if (values['skip-peer']) return undefined;
  log(`PyTorch peer ${method ? `${method === 'mmlu' ? '' : 'train '}${method} ` : ''}${mode} ...`);
  const env = { ...process.env, OPENBLAS_CORETYPE: openBlasCoreType() };
  const script =
    method === 'mmlu' ? ['bench/peer/mmlu_peer.py', '--items', mmluItemsFile] : method ? ['bench/peer/train_peer.py', '--method', method] : ['bench/peer/run_peer.py'];
  try {
    const output = execFileSync('/usr/bin/python3', [...script, '--model', modelDir, '--mode', mode, '--threads', '2', '--json'], {
      encoding: 'utf8',
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 1 << 22,
    });
    return JSON.parse(output.trim().split('\n').pop()!) as Record<string, unknown>;
  } catch (error) {
    log(`the peer failed (is python3-torch installed? apt-get install python3-torch): ${(error as Error).message}`);
    return undefined;
  }
}

const num = (v: unknown) => (typeof v === 'number' ? v : NaN);
/** Reads a number at a dotted path of the peer's JSON (see bench/peer/run_peer.py). */
const peerValue = (report: Record<string, unknown> | undefined, path: string) =>
  num(path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], report));
interface Row {
  metric: string;
  tuneloop: number;
  pytorch: number;
  target: string;
}
const rows: Row[] = [];
const results: Record<string, unknown> = { date: new Date().toISOString(), only: values.only ?? 'all' };

if (runInfer) {
  const engine = worker<MatmulReport>('matmul');
  const ours = {
    load_bf16: worker('load', 'bf16'),
    score_fp32: worker('score', 'fp32'),
    score_bf16: worker('score', 'bf16'),
    decode_bf16: worker('decode', 'bf16'),
    decode_fp32: worker('decode', 'fp32'),
  };
  const theirs = { fp32: peer('fp32'), bf16: peer('bf16') };
  const peerScoreFp32 = peerValue(theirs.fp32, 'scoring.tokens_per_s');
  const peerScoreBf16 = peerValue(theirs.bf16, 'scoring.tokens_per_s');
  const peerDecodeFp32 = peerValue(theirs.fp32, 'decode.decode_tokens_per_s');
  // The peer's best bf16 decoding may come from another setting than its best scoring.
  const peerDecodeBf16 = peerValue(theirs.bf16, 'best_decode.decode_tokens_per_s');
  rows.push(
    { metric: 'scoring 8x128, fp32 (tokens/s)', tuneloop: num(ours.score_fp32.score_tokens_per_s), pytorch: peerScoreFp32, target: 'ratio >= 1' },
    { metric: 'scoring 8x128, bf16 (tokens/s)', tuneloop: num(ours.score_bf16.score_tokens_per_s), pytorch: peerScoreBf16, target: 'ratio >= 1' },
    { metric: 'greedy decode b1, bf16 weights (tokens/s) vs PyTorch fp32', tuneloop: num(ours.decode_bf16.decode_tokens_per_s), pytorch: peerDecodeFp32, target: 'ratio >= 2' },
    { metric: 'greedy decode b1, fp32 (tokens/s)', tuneloop: num(ours.decode_fp32.decode_tokens_per_s), pytorch: peerDecodeFp32, target: '-' },
    { metric: 'greedy decode b1, bf16 (tokens/s) vs PyTorch bf16', tuneloop: num(ours.decode_bf16.decode_tokens_per_s), pytorch: peerDecodeBf16, target: '-' },
    { metric: 'peak RSS loading in bf16 (MB)', tuneloop: num(ours.load_bf16.peak_rss_mb), pytorch: peerValue(theirs.bf16, 'peak_rss_after_load_mb'), target: 'tuneloop <= 1600 MB' },
  );
  Object.assign(results, { engine, tuneloop: ours, pytorch: theirs });
}

if (runTrain) {
  const methods = [
    { method: 'lora', label: 'LoRA r=8 qkv' },
    { method: 'prompt', label: 'prompt tuning 20 vt' },
  ] as const;
  const training: Record<string, { tuneloop: Record<string, number | string>; pytorch: Record<string, unknown> | undefined }> = {};
  for (const { method, label } of methods) {
    for (const mode of ['fp32', 'bf16'] as const) {
      const ours = worker(`train-${method}`, mode);
      const theirs = peer(mode, method);
      training[`${method}_${mode}`] = { tuneloop: ours, pytorch: theirs };
      log(`train ${method} ${mode}: tuneloop ${num(ours.train_tokens_per_s).toFixed(1)} tokens/s, PyTorch ${peerValue(theirs, 'tokens_per_s').toFixed(1)} tokens/s`);
      const target = method === 'lora' && mode === 'bf16' ? 'ratio >= 1, tuneloop >= 300' : 'ratio >= 1';
      rows.push({ metric: `train ${label}, 4x128, ${mode} (tokens/s)`, tuneloop: num(ours.train_tokens_per_s), pytorch: peerValue(theirs, 'tokens_per_s'), target });
    }
  }
  for (const { method, label } of methods) {
    const { tuneloop, pytorch } = training[`${method}_bf16`];
    rows.push({ metric: `peak RSS training ${label}, bf16 (MB)`, tuneloop: num(tuneloop.peak_rss_mb), pytorch: peerValue(pytorch, 'peak_rss_mb'), target: '-' });
  }
  results.training = training;
}

if (runMmlu) {
  worker('mmlu-items', '', [mmluItemsFile]);
  const mmlu: Record<string, unknown> = {};
  for (const mode of ['fp32', 'bf16'] as const) {
    const ours = worker<Record<string, unknown>>('mmlu', mode, [modelDir, mode, mmluItemsFile]);
    const theirs = peer(mode, 'mmlu');
    const items = num(ours.mmlu_items);
    const agreement = compareAnswers(ours, theirs);
    mmlu[mode] = { tuneloop: ours, pytorch: theirs, ...agreement };
    log(`mmlu ${mode}: tuneloop ${num(ours.mmlu_items_per_s).toFixed(3)} items/s, PyTorch ${peerValue(theirs, 'items_per_s').toFixed(3)} items/s; answers agree ${agreement.answers_agree}/${items}, max |Δ log-likelihood| ${agreement.max_loglikelihood_diff}`);
    rows.push(
      { metric: `MMLU 5-shot, ${items} items, ${mode} (items/s)`, tuneloop: num(ours.mmlu_items_per_s), pytorch: peerValue(theirs, 'items_per_s'), target: 'ratio >= 3' },
      { metric: `MMLU answers equal to the other's, ${mode} (of ${items})`, tuneloop: agreement.answers_agree, pytorch: items, target: 'ratio = 1' },
      { metric: `peak RSS MMLU scoring, ${mode} (MB)`, tuneloop: num(ours.peak_rss_mb), pytorch: peerValue(theirs, 'peak_rss_mb'), target: '-' },
    );
  }
  results.mmlu = mmlu;
}

interface BusyRow {
  metric: string;
  default_threads: number;
  one_thread: number;
  target: string;
}
const busyRows: BusyRow[] = [];

/** The longest a busy process spins: a bound in case this runner dies before it kills them. */
const BUSY_LIMIT_MS = 10 * 60_000;

/** Runs `measure` with two processes spinning on the CPU beside it, as other jobs on a shared machine would. */
function besideTwoBusyProcesses<T>(measure: () => T): T {
  const spin = `const end = Date.now() + ${BUSY_LIMIT_MS}; while (Date.now() < end);`;
  const busy = [0, 1].map(() => spawn(process.execPath, ['-e', spin], { stdio: 'ignore' }));
  try {
    return measure();
  } finally {
    for (const child of busy) child.kill();
  }
}

if (runBusy) {
  const oneThread = { ...process.env, TUNELOOP_THREADS: '1' };
  const measured = {
    decode_default: besideTwoBusyProcesses(() => worker('decode', 'fp32', [smallModelDir, 'fp32', '256'])),
    decode_one_thread: besideTwoBusyProcesses(() => worker('decode', 'fp32', [smallModelDir, 'fp32', '256'], oneThread)),
    train_lora_default: besideTwoBusyProcesses(() => worker('train-lora', 'fp32', [smallModelDir, 'fp32'])),
    train_lora_one_thread: besideTwoBusyProcesses(() => worker('train-lora', 'fp32', [smallModelDir, 'fp32'], oneThread)),
  };
  const threads = num(measured.decode_default.threads);
  busyRows.push(
    {
      metric: 'greedy decode b1, 256 new tokens, fp32 (tokens/s)',
      default_threads: num(measured.decode_default.decode_tokens_per_s),
      one_thread: num(measured.decode_one_thread.decode_tokens_per_s),
      target: 'ratio >= 0.77 (1/1.3)',
    },
    {
      metric: 'train LoRA r=8 qkv, 4x128, fp32 (tokens/s)',
      default_threads: num(measured.train_lora_default.train_tokens_per_s),
      one_thread: num(measured.train_lora_one_thread.train_tokens_per_s),
      target: '-',
    },
  );
  results.busy = { model: smallModelDir, default_threads: threads, busy_processes: 2, ...measured, rows: busyRows };
}

/** How many items both chose the same answer for, and the largest log-likelihood difference. */
function compareAnswers(ours: Record<string, unknown>, theirs: Record<string, unknown> | undefined): { answers_agree: number; max_loglikelihood_diff: number } {
  if (!theirs) return { answers_agree: NaN, max_loglikelihood_diff: NaN };
  const ourAnswers = ours.mmlu_answers as number[];
  const theirAnswers = theirs.answers as number[];
  const ourLls = (ours.mmlu_loglikelihoods as number[][]).flat();
  const theirLls = (theirs.loglikelihoods as number[][]).flat();
  return {
    answers_agree: ourAnswers.filter((a, i) => a === theirAnswers[i]).length,
    max_loglikelihood_diff: Math.max(...ourLls.map((v, i) => Math.abs(v - theirLls[i]))),
  };
}

/** Small figures (items/s) keep three significant digits. */
const figure = (v: number) => (Math.abs(v) >= 10 ? v.toFixed(1) : v.toPrecision(3));
const table: string[] = [];
if (rows.length > 0) {
  table.push(
    `${'metric'.padEnd(62)} ${'tuneloop'.padStart(10)} ${'PyTorch'.padStart(10)} ${'ratio'.padStart(7)}  target`,
    ...rows.map((r) => `${r.metric.padEnd(62)} ${figure(r.tuneloop).padStart(10)} ${figure(r.pytorch).padStart(10)} ${(r.tuneloop / r.pytorch).toFixed(2).padStart(7)}  ${r.target}`),
  );
}
if (results.engine) table.push('', formatMatmulReport(results.engine as MatmulReport));
if (busyRows.length > 0) {
  const threads = (results.busy as { default_threads: number }).default_threads;
  if (table.length > 0) table.push('');
  table.push(
    `${'small BLOOM beside two spinning processes'.padEnd(62)} ${`${threads} threads`.padStart(10)} ${'1 thread'.padStart(10)} ${'ratio'.padStart(7)}  target`,
    ...busyRows.map((r) => `${r.metric.padEnd(62)} ${figure(r.default_threads).padStart(10)} ${figure(r.one_thread).padStart(10)} ${(r.default_threads / r.one_thread).toFixed(2).padStart(7)}  ${r.target}`),
  );
}
process.stdout.write(`${table.join('\n')}\n`);
results.rows = rows;
const resultsPath = join(outDir, values.only ? `results-${values.only}.json` : 'results.json');
writeFileSync(`${resultsPath}.tmp`, `${JSON.stringify(results, null, 2)}\n`);
renameSync(`${resultsPath}.tmp`, resultsPath);
process.stdout.write(`${JSON.stringify({ rows, busy_rows: busyRows })}\n`);

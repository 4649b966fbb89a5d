/**
 * The engine's linear() throughput at BLOOM-560m shapes, beside the machine's measured peaks.
 *
 * GFLOP/s counts 2·M·K·N per call and times the whole Backend.linear call: input conversion to
 * bf16, output allocation and bias included. Rows M=1 and M=8 are decoding, so their figure of merit
 * is weight bandwidth (GB/s of packed weight streamed); `decode_sweep` measures it on a set of
 * weights larger than the last-level cache, as a 24-layer model streams them.
 *
 * Run alone: node dist/bench/matmul.js [--quick]
 */
import { pathToFileURL } from 'node:url';
import type { Backend, Weight } from '../src/engine/backend.js';
import { loadNativeBackend, NativeBackend, NativeWeight } from '../src/engine/backends/native.js';
import { TypeScriptBackend } from '../src/engine/backends/typescript.js';

export interface MatmulShape {
  readonly m: number;
  readonly k: number;
  readonly n: number;
  /** What the shape is in BLOOM-560m. */
  readonly role: string;
}

export interface MatmulMeasurement extends MatmulShape {
  readonly dtype: 'f32' | 'bf16';
  readonly gflops: number;
  readonly ms: number;
  /** Packed weight bytes streamed per second, in GB/s (the decoding figure of merit). */
  readonly weight_gbps: number;
}

export interface DecodeSweep {
  readonly dtype: 'f32' | 'bf16';
  readonly layers: number;
  readonly weight_mb: number;
  readonly ms: number;
  readonly weight_gbps: number;
}

export interface MatmulReport {
  readonly backend: 'native' | 'typescript';
  readonly threads: number | null;
  /** Float32 FMA peak over all threads (GFLOP/s); null for the TypeScript backend. */
  readonly fma_peak_gflops: number | null;
  /** bf16 dot-product (vdpbf16ps) peak; 0 without the instruction, null for the TypeScript backend. */
  readonly bf16_dot_peak_gflops: number | null;
  readonly matmul: MatmulMeasurement[];
  readonly decode_sweep: DecodeSweep[];
}

const HIDDEN = 1024;
const VOCAB = 250880;

/** BLOOM-560m's linears: fused QKV, attention output, MLP up and down, and the tied lm_head. */
export const BLOOM_560M_SHAPES: readonly MatmulShape[] = [
  { m: 1024, k: HIDDEN, n: 3 * HIDDEN, role: 'qkv, scoring 8x128' },
  { m: 1024, k: HIDDEN, n: HIDDEN, role: 'attention dense, scoring' },
  { m: 1024, k: HIDDEN, n: 4 * HIDDEN, role: 'mlp up, scoring' },
  { m: 1024, k: 4 * HIDDEN, n: HIDDEN, role: 'mlp down, scoring' },
  { m: 1024, k: HIDDEN, n: VOCAB, role: 'lm_head, scoring' },
  { m: 8, k: HIDDEN, n: 3 * HIDDEN, role: 'qkv, decoding batch 8' },
  { m: 1, k: HIDDEN, n: 3 * HIDDEN, role: 'qkv, decoding' },
  { m: 1, k: HIDDEN, n: HIDDEN, role: 'attention dense, decoding' },
  { m: 1, k: HIDDEN, n: 4 * HIDDEN, role: 'mlp up, decoding' },
  { m: 1, k: 4 * HIDDEN, n: HIDDEN, role: 'mlp down, decoding' },
  { m: 1, k: HIDDEN, n: VOCAB, role: 'lm_head, decoding' },
];

function randomData(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let state = seed >>> 0;
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state / 2 ** 31 - 1;
  }
  return out;
}

/** Seconds per call: one warm-up call (primitive creation), then repeats until `minSeconds`. */
function timeCall(fn: () => void, minSeconds: number): number {
  fn();
  let calls = 0;
  const started = performance.now();
  let elapsed = 0;
  do {
    fn();
    calls++;
    elapsed = (performance.now() - started) / 1000;
  } while (elapsed < minSeconds || calls < 3);
  return elapsed / calls;
}

function weightBytes(weight: Weight): number {
  if (weight instanceof NativeWeight) return weight.bytes;
  return weight.outFeatures * weight.inFeatures * (weight.dtype === 'bf16' ? 2 : 4);
}

function measureShape(backend: Backend, shape: MatmulShape, dtype: 'f32' | 'bf16', minSeconds: number): MatmulMeasurement {
  const { m, k, n } = shape;
  const weight = backend.prepareWeight({ dtype: 'f32', shape: [n, k], data: randomData(n * k, n + k) }, dtype);
  const x = randomData(m * k, m);
  const bias = randomData(n, 1);
  // The largest shape (lm_head at M=1024, half a TFLOP) is timed over fewer calls.
  const flops = 2 * m * k * n;
  const seconds = timeCall(() => backend.linear(x, m, weight, bias), flops > 1e11 ? 0 : minSeconds);
  return { ...shape, dtype, gflops: flops / seconds / 1e9, ms: seconds * 1000, weight_gbps: weightBytes(weight) / seconds / 1e9 };
}

/** One decoding step's linears over `layers` layers of BLOOM-560m (M=1): streaming bandwidth. */
function measureDecodeSweep(backend: Backend, dtype: 'f32' | 'bf16', layers: number, minSeconds: number): DecodeSweep {
  const layerShapes = BLOOM_560M_SHAPES.filter((s) => s.m === 1 && s.n !== VOCAB);
  const weights: Weight[] = [];
  for (let l = 0; l < layers; l++) {
    for (const s of layerShapes) weights.push(backend.prepareWeight({ dtype: 'f32', shape: [s.n, s.k], data: randomData(s.n * s.k, l) }, dtype));
  }
  const inputs = new Map(layerShapes.map((s) => [s.k, randomData(s.k, s.k)]));
  const seconds = timeCall(() => {
    for (const w of weights) backend.linear(inputs.get(w.inFeatures)!, 1, w, null);
  }, minSeconds);
  const bytes = weights.reduce((sum, w) => sum + weightBytes(w), 0);
  return { dtype, layers, weight_mb: bytes / 1e6, ms: seconds * 1000, weight_gbps: bytes / seconds / 1e9 };
}

export interface MatmulOptions {
  /** Defaults to the native backend, else the TypeScript one (which is timed on decoding rows only). */
  readonly backend?: Backend;
  readonly shapes?: readonly MatmulShape[];
  readonly dtypes?: ReadonlyArray<'f32' | 'bf16'>;
  /** Minimum timed seconds per shape (default 0.5). */
  readonly minSeconds?: number;
  /** Layers in the decoding sweep (default 24, BLOOM-560m's depth; 0 skips it). */
  readonly sweepLayers?: number;
}

function defaultBackend(): Backend {
  try {
    return loadNativeBackend();
  } catch {
    return new TypeScriptBackend();
  }
}

/** Measures linear() GFLOP/s per shape and dtype, the decoding bandwidth, and the machine peaks. */
export function measureMatmulGflops(options: MatmulOptions = {}): MatmulReport {
  const backend = options.backend ?? defaultBackend();
  const isNative = backend instanceof NativeBackend;
  const minSeconds = options.minSeconds ?? 0.5;
  // The single-threaded reference would take minutes per scoring shape.
  const shapes = (options.shapes ?? BLOOM_560M_SHAPES).filter((s) => isNative || s.m <= 8);
  const dtypes = options.dtypes ?? ['f32', 'bf16'];
  // Peaks first, before the matmuls leave large allocations for the garbage collector to chase.
  const fmaPeak = fmaPeakGflops(backend);
  const bf16DotPeak = isNative ? backend.bf16DotPeakGflops() : null;
  const matmul: MatmulMeasurement[] = [];
  for (const dtype of dtypes) for (const shape of shapes) matmul.push(measureShape(backend, shape, dtype, minSeconds));
  const sweepLayers = isNative ? (options.sweepLayers ?? 24) : 0;
  const decodeSweep = sweepLayers > 0 ? dtypes.map((dtype) => measureDecodeSweep(backend, dtype, sweepLayers, minSeconds)) : [];
  return {
    backend: backend.name,
    threads: isNative ? backend.threads() : null,
    fma_peak_gflops: fmaPeak,
    bf16_dot_peak_gflops: bf16DotPeak,
    matmul,
    decode_sweep: decodeSweep,
  };
}

/** The machine's float32 FMA peak over all threads, measured by the addon; null without it. */
export function fmaPeakGflops(backend: Backend = defaultBackend(), seconds = 0.5): number | null {
  return backend instanceof NativeBackend ? backend.fmaPeakGflops(seconds) : null;
}

export function formatMatmulReport(report: MatmulReport): string {
  const lines = [
    `backend ${report.backend}, ${report.threads ?? 1} thread(s); fp32 FMA peak ${report.fma_peak_gflops?.toFixed(0) ?? 'n/a'} GFLOP/s, bf16 dot peak ${report.bf16_dot_peak_gflops?.toFixed(0) ?? 'n/a'} GFLOP/s`,
    `${'dtype'.padEnd(5)} ${'M'.padStart(5)} ${'K'.padStart(5)} ${'N'.padStart(7)} ${'GFLOP/s'.padStart(8)} ${'ms'.padStart(9)} ${'weight GB/s'.padStart(11)}  role`,
    ...report.matmul.map(
      (r) =>
        `${r.dtype.padEnd(5)} ${String(r.m).padStart(5)} ${String(r.k).padStart(5)} ${String(r.n).padStart(7)} ${r.gflops.toFixed(1).padStart(8)} ${r.ms.toFixed(3).padStart(9)} ${r.weight_gbps.toFixed(1).padStart(11)}  ${r.role}`,
    ),
    ...report.decode_sweep.map(
      (s) => `decode sweep ${s.dtype}: ${s.layers} layers, ${s.weight_mb.toFixed(0)} MB of weights in ${s.ms.toFixed(1)} ms = ${s.weight_gbps.toFixed(1)} GB/s`,
    ),
  ];
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const quick = process.argv.includes('--quick');
  const report = measureMatmulGflops(quick ? { minSeconds: 0.2, shapes: BLOOM_560M_SHAPES.filter((s) => s.n !== VOCAB), sweepLayers: 8 } : {});
  process.stdout.write(`${formatMatmulReport(report)}\n`);
}

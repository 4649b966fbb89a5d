/**
 * QLoRA memory probe: peak resident memory (VmHWM) of an NF4-quantised BLOOM with a LoRA adapter,
 * after loading and after one training step (forward, backward, AdamW on the adapter).
 *
 *   node dist/bench/qlora-memory.js 560m   # bench/out/bloom-560m-random (fp32 safetensors), batch 4 x 128
 *   node dist/bench/qlora-memory.js 7b1    # BLOOM-7b1 shapes, random weights made in memory, batch 1 x 64
 *
 * Block linears are NF4 (double-quantised scales), the tied embedding / lm_head bf16, LayerNorms and
 * biases float32, compute bf16: QLoRA's setting. The 7b1 mode reads no checkpoint: each tensor is drawn
 * (uniform with std 0.02, a fast stand-in for a trained model's weights) when the loader asks for it,
 * quantised and dropped, so only one float32 matrix exists at a time. Options: --rank N (LoRA r, default
 * 16, all four block linears), --batch B, --seq T, --no-checkpointing (keep every block's activations
 * instead of recomputing them: QLoRA trains with gradient checkpointing, as peft sets it up).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadNativeBackend } from '../src/engine/backends/native.js';
import type { DType } from '../src/engine/dtype.js';
import type { Tensor } from '../src/engine/tensor.js';
import type { BloomConfig } from '../src/models/bloom/config.js';
import { BloomModel } from '../src/models/bloom/model.js';
import { loadBloomWeights } from '../src/models/bloom/weights.js';
import { BLOCK_LINEAR_NAMES, type LoraConfig } from '../src/peft/lora/config.js';
import { createLoraAdapter } from '../src/peft/lora/model.js';
import { forwardBackward } from '../src/train/bloom-backward.js';

function status(): { hwmMb: number; rssMb: number } {
  const text = readFileSync('/proc/self/status', 'utf8');
  const field = (name: string) => Number(/^(\w+):\s+(\d+) kB$/m.exec(text.split('\n').find((l) => l.startsWith(`${name}:`)) ?? '')?.[2] ?? NaN) / 1024;
  return { hwmMb: field('VmHWM'), rssMb: field('VmRSS') };
}

function report(label: string): void {
  const { hwmMb, rssMb } = status();
  console.log(`${label}: peak RSS (VmHWM) ${hwmMb.toFixed(0)} MB, current RSS ${rssMb.toFixed(0)} MB`);
}

function argument(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** xorshift32 → uniform in [-√3·std, √3·std): variance std². */
function fastRandom(seed: number) {
  let s = seed >>> 0 || 1;
  return (std: number) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) / 4294967296 - 0.5) * 2 * Math.sqrt(3) * std;
  };
}

/** A tensor source for loadBloomWeights that draws random weights on request (no checkpoint file). */
function randomTensors(seed: number) {
  const draw = fastRandom(seed);
  return {
    read(name: string, dtype: DType, shape: readonly number[]): Tensor {
      const count = shape.reduce((a, b) => a * b, 1);
      if (shape.length === 1) {
        const data = new Float32Array(count);
        if (name.endsWith('layernorm.weight') || name === 'ln_f.weight') data.fill(1);
        return { dtype: 'f32', shape, data };
      }
      if (dtype === 'bf16') {
        // Straight to bf16 bits (truncation is fine for random values): no float32 copy of the embedding.
        const data = new Uint16Array(count);
        const f = new Float32Array(1);
        const bits = new Uint32Array(f.buffer);
        for (let i = 0; i < count; i++) {
          f[0] = draw(0.02);
          data[i] = bits[0] >>> 16;
        }
        return { dtype: 'bf16', shape, data };
      }
      const data = new Float32Array(count);
      for (let i = 0; i < count; i++) data[i] = draw(0.02);
      return { dtype: 'f32', shape, data };
    },
  };
}

const BLOOM_7B1: BloomConfig = {
  vocabSize: 250880,
  hiddenSize: 4096,
  numLayers: 30,
  numHeads: 32,
  headDim: 128,
  layerNormEpsilon: 1e-5,
  bosTokenId: 1,
  eosTokenId: 2,
  padTokenId: 3,
  tieWordEmbeddings: true,
  applyResidualConnectionPostLayernorm: false,
};

const mode = process.argv[2] ?? '560m';
if (mode !== '560m' && mode !== '7b1') throw new Error(`mode must be 560m or 7b1, got ${mode}`);
const backend = loadNativeBackend();
const rank = argument('rank', 16);
const batch = argument('batch', mode === '560m' ? 4 : 1);
const seq = argument('seq', mode === '560m' ? 128 : 64);
report('start');

let start = performance.now();
let model: BloomModel;
if (mode === '560m') {
  model = BloomModel.load(join('bench', 'out', 'bloom-560m-random'), { backend, dtype: 'bf16', quantization: 'nf4', doubleQuant: true });
} else {
  let loaded = 0;
  const weights = loadBloomWeights(randomTensors(1), BLOOM_7B1, backend, 'bf16', () => {
    if (++loaded % 60 === 0) report(`  ${loaded} tensors`);
  }, { quantization: 'nf4', doubleQuant: true });
  model = new BloomModel(BLOOM_7B1, weights, backend, 'bf16', undefined, 'nf4');
}
const loadSeconds = (performance.now() - start) / 1000;
const weightBytes = (w: unknown) => (w as { bytes?: number }).bytes ?? 0;
let nf4Bytes = 0;
let quantizedParams = 0;
for (const block of model.weights.blocks) {
  for (const linear of [block.queryKeyValue, block.dense, block.denseHTo4h, block.dense4hToH]) {
    nf4Bytes += weightBytes(linear.weight);
    quantizedParams += linear.weight.outFeatures * linear.weight.inFeatures;
  }
}
console.log(
  `${mode}: loaded in ${loadSeconds.toFixed(1)} s; NF4 block linears ${(nf4Bytes / 2 ** 20).toFixed(0)} MB for ${(quantizedParams / 1e6).toFixed(0)}M params ` +
    `(${((8 * nf4Bytes) / quantizedParams).toFixed(3)} bits/param); embedding (bf16, packed) ${(weightBytes(model.weights.wordEmbeddings) / 2 ** 20).toFixed(0)} MB`,
);
report('after load');

const config: LoraConfig = { r: rank, loraAlpha: 2 * rank, loraDropout: 0, targetModules: [...BLOCK_LINEAR_NAMES], useRslora: false };
const draw = fastRandom(2);
const adapter = createLoraAdapter(model.config, config, 'default', () => draw(1 / Math.sqrt(12)) + 0.5);
let loraParams = 0;
for (const layer of adapter.layers.values()) loraParams += layer.a.length + layer.b.length;
console.log(`LoRA r=${rank} on all block linears: ${(loraParams / 1e6).toFixed(2)}M trainable params`);

const ids = new Int32Array(batch * seq);
for (let i = 0; i < ids.length; i++) ids[i] = 5 + ((i * 7919) % (model.config.vocabSize - 5));
const trainingBatch = { ids, mask: new Uint8Array(ids.length).fill(1), labels: Int32Array.from(ids), batch };

start = performance.now();
const gradientCheckpointing = !process.argv.includes('--no-checkpointing');
const result = forwardBackward(model, trainingBatch, { lora: adapter }, { gradientCheckpointing });
const backwardSeconds = (performance.now() - start) / 1000;
// AdamW on every LoRA tensor (its moments allocated here, as a trainer would).
const params = adapter.tensors();
for (const [name, grad] of result.grads) {
  const param = params.get(name)!.data as Float32Array;
  backend.adamwStep(param, grad, new Float32Array(param.length), new Float32Array(param.length), { step: 1, lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 });
}
const stepSeconds = (performance.now() - start) / 1000;
console.log(`training step at batch ${batch} x ${seq}${gradientCheckpointing ? ', gradient checkpointing' : ''}: loss ${result.loss.toFixed(4)}, forward+backward ${backwardSeconds.toFixed(2)} s, step ${stepSeconds.toFixed(2)} s (${backend.threads()} threads)`);
report('after one training step');

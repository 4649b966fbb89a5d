/**
 * A small training run in its own process, for the kill-and-resume tests: LoRA on fixture ckpt_a,
 * learning to continue a fixed token pattern. Usage: node train-child.js OUTPUT_DIR [VARIANT [KILL_AFTER_STEP]]
 * Prints one line per step ("step N") and writes OUTPUT_DIR/final.safetensors (every trained tensor) at the end;
 * with KILL_AFTER_STEP it SIGKILLs itself once that step is logged.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TypeScriptBackend } from '../../src/engine/backends/typescript.js';
import { SafetensorsFile, writeSafetensors } from '../../src/formats/safetensors.js';
import { SeededRandom } from '../../src/inference/sampling.js';
import { BloomModel } from '../../src/models/bloom/model.js';
import { initialReplacements } from '../../src/peft/lora/modules-to-save.js';
import { createLoraAdapter } from '../../src/peft/lora/model.js';
import type { TrainingBatch } from '../../src/train/bloom-backward.js';
import { train } from '../../src/train/trainer.js';
import { loadReference } from './reference.js';

/**
 * What the child trains besides LoRA's A and B: nothing more, modules_to_save replacements (a LayerNorm,
 * updated in place, and the lm_head, a matrix prepared anew each step), or DoRA's magnitudes.
 */
export type TrainChildVariant = 'lora' | 'modules_to_save' | 'dora';
export const CHILD_MODULES_TO_SAVE = ['input_layernorm', 'lm_head'];

export function patternBatches(count: number, seed: number): TrainingBatch[] {
  const random = new SeededRandom(seed);
  return Array.from({ length: count }, () => {
    const ids = new Int32Array(2 * 8);
    for (let b = 0; b < 2; b++) {
      const start = 10 + Math.floor(random.next() * 100);
      for (let t = 0; t < 8; t++) ids[b * 8 + t] = start + 3 * t;
    }
    return { ids, mask: new Uint8Array(16).fill(1), labels: Int32Array.from(ids), batch: 2 };
  });
}

const childScript = fileURLToPath(import.meta.url);

/** Runs the child to its end in `outputDir` (resuming from a checkpoint there if any); returns its stdout. */
export function runTrainChild(outputDir: string, variant: TrainChildVariant): string {
  const run = spawnSync(process.execPath, [childScript, outputDir, variant], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`train-child ${variant} exited with ${run.status}: ${run.stderr}`);
  return run.stdout;
}

/**
 * Runs the child until it SIGKILLs itself right after step 5, which follows the step-4 checkpoint: the
 * kill lands mid-run with work done since the checkpoint. The child kills itself, rather than the test
 * killing it on reading "step 5", so that the kill cannot land after the step-6 checkpoint.
 */
export function killTrainChildAfterStep5(outputDir: string, variant: TrainChildVariant): void {
  const run = spawnSync(process.execPath, [childScript, outputDir, variant, '5'], { encoding: 'utf8' });
  if (run.signal !== 'SIGKILL') throw new Error(`train-child ${variant} was to be killed after step 5, but ended with status ${run.status}: ${run.stderr}`);
}

/** The tensors the child wrote at its end, by peft's names. */
export function trainChildFinalTensors(outputDir: string): Map<string, Float32Array> {
  const file = SafetensorsFile.open(join(outputDir, 'final.safetensors'));
  try {
    return new Map([...file.entries.keys()].map((name) => [name, file.read(name).data as Float32Array]));
  } finally {
    file.close();
  }
}

if (process.argv[1] === childScript && process.argv[2]) {
  const outputDir = process.argv[2];
  const variant = (process.argv[3] ?? 'lora') as TrainChildVariant;
  const killAfterStep = process.argv[4] === undefined ? undefined : Number(process.argv[4]);
  const model = BloomModel.load(loadReference('a').checkpointDir, { backend: new TypeScriptBackend(), dtype: 'f32' });
  const random = new SeededRandom(11);
  const modulesToSave = variant === 'modules_to_save' ? CHILD_MODULES_TO_SAVE : [];
  const lora = createLoraAdapter(
    model.config,
    { r: 4, loraAlpha: 8, loraDropout: 0, targetModules: ['query_key_value', 'dense_4h_to_h'], useRslora: false, useDora: variant === 'dora', modulesToSave },
    'default',
    () => random.next(),
    { baseModel: model, modulesToSave: modulesToSave.length > 0 ? initialReplacements(model, modulesToSave) : undefined },
  );
  train({
    model,
    trainables: { lora },
    trainBatches: patternBatches(5, 3),
    epochs: 2,
    gradientAccumulation: 1,
    maxGradNorm: 1,
    adamw: { lr: 5e-3 },
    schedule: { kind: 'cosine', warmupSteps: 2 },
    checkpointEvery: 2,
    outputDir,
    seed: 5,
    onStep: (event) => {
      process.stdout.write(`step ${event.step} loss ${event.loss.toFixed(4)}\n`);
      if (event.step === killAfterStep) process.kill(process.pid, 'SIGKILL');
    },
  });
  writeSafetensors(join(outputDir, 'final.safetensors'), lora.tensors());
}

/**
 * LoRA with modules_to_save and with DoRA, trained whole: YAML → `tuneloop train` → adapter files →
 * the adapter loaded on a fresh base; and a run killed mid-way that resumes to the same tensors as an
 * uninterrupted one, replacements, magnitudes and their AdamW moments included.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { TypeScriptBackend } from '../../src/engine/backends/typescript.js';
import { SafetensorsFile } from '../../src/formats/safetensors.js';
import { SeededRandom } from '../../src/inference/sampling.js';
import { BloomModel } from '../../src/models/bloom/model.js';
import { applyAdapter } from '../../src/peft/apply-adapter.js';
import type { LoraConfig } from '../../src/peft/lora/config.js';
import { initialReplacements } from '../../src/peft/lora/modules-to-save.js';
import { LoraModel, createLoraAdapter } from '../../src/peft/lora/model.js';
import { IGNORE_INDEX, type Trainables, type TrainingBatch, forwardBackward } from '../../src/train/bloom-backward.js';
import { loadCheckpoint } from '../../src/train/checkpoint.js';
import { trainableParameters } from '../../src/train/trainable-parameters.js';
import { repoRoot } from '../helpers/paths.js';
import { maxAbsDiff } from '../helpers/reference.js';
import { writeTinyModelDir } from '../helpers/tiny-model-dir.js';
import { CHILD_MODULES_TO_SAVE, type TrainChildVariant, killTrainChildAfterStep5, patternBatches, runTrainChild, trainChildFinalTensors } from '../helpers/train-child.js';

const scratch = mkdtempSync(join(tmpdir(), 'tuneloop-mts-train-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const cli = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const modelDir = writeTinyModelDir(join(scratch, 'model'));
mkdirSync(join(scratch, 'data'));
copyFileSync(join(repoRoot, 'data', 'tasks', 'grammar.train.jsonl'), join(scratch, 'data', 'grammar.train.jsonl'));

const QKV0 = 'base_model.model.transformer.h.0.self_attention.query_key_value';
const loadBase = () => BloomModel.load(modelDir, { backend: new TypeScriptBackend(), dtype: 'f32' });

/**
 * Trains one task through the CLI with `method` (YAML flow mapping) for 4 steps, checkpointing every 2
 * and without validation, so that the step-4 checkpoint holds exactly the trained tensors. Returns the task's directory.
 */
function trainThroughCli(name: string, method: string): string {
  const config = join(scratch, `${name}.yaml`);
  writeFileSync(
    config,
    [
      'model: model',
      `output_dir: runs-${name}`,
      `method: ${method}`,
      'data: {max_length: 48, validation_fraction: 0}',
      'training: {epochs: 1, batch_size: 8, max_steps: 4, checkpoint_every: 2, learning_rate: 0.01}',
      'tasks:',
      '  - {name: grammar, train: data/grammar.train.jsonl}',
    ].join('\n'),
  );
  const run = spawnSync(process.execPath, [cli, 'train', '--config', config], { encoding: 'utf8', env: { ...process.env, TUNELOOP_BACKEND: 'typescript' } });
  assert.equal(run.status, 0, run.stderr);
  return join(scratch, `runs-${name}`, 'grammar');
}

function readTensors(path: string): Map<string, Float32Array> {
  const file = SafetensorsFile.open(path);
  try {
    return new Map([...file.entries.keys()].map((name) => [name, file.read(name, 'f32').data as Float32Array]));
  } finally {
    file.close();
  }
}

/** Mean next-token cross-entropy of `logits` [rows, vocab] against the batch's labels, shifted as Hugging Face does. */
function shiftedCrossEntropy(logits: Float32Array, batch: TrainingBatch, vocab: number): number {
  const length = batch.ids.length / batch.batch;
  let sum = 0;
  let counted = 0;
  for (let row = 0; row < batch.batch; row++) {
    for (let t = 0; t + 1 < length; t++) {
      const target = batch.labels[row * length + t + 1];
      if (target === IGNORE_INDEX) continue;
      const z = logits.subarray((row * length + t) * vocab, (row * length + t + 1) * vocab);
      const max = z.reduce((m, x) => Math.max(m, x), -Infinity);
      const logSumExp = max + Math.log(z.reduce((s, x) => s + Math.exp(x - max), 0));
      sum += logSumExp - z[target];
      counted++;
    }
  }
  return sum / counted;
}

const batch = patternBatches(1, 7)[0];

function inferenceLogits(model: { forward: BloomModel['forward']; logits: BloomModel['logits'] }): Float32Array {
  const { hidden } = model.forward({ ids: batch.ids, batch: batch.batch, mask: batch.mask });
  return model.logits(hidden, batch.ids.length);
}

/**
 * Checks a trained task: the adapter holds the step-4 checkpoint's tensors under peft's names, every
 * name in `expectedNames` among them and moved from where training started; a fresh base with the
 * adapter gives the trained model's logits, and the training forward's loss on them.
 */
function checkTrainedAdapter(taskDir: string, lora: LoraConfig, expectedNames: readonly string[]): void {
  const adapterDir = join(taskDir, 'adapter');
  const adapterConfig = JSON.parse(readFileSync(join(adapterDir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(adapterConfig.peft_type, 'LORA');
  assert.deepEqual(adapterConfig.modules_to_save ?? null, lora.modulesToSave?.length ? lora.modulesToSave : null);
  assert.equal(adapterConfig.use_dora ?? false, lora.useDora ?? false);
  const saved = readTensors(join(adapterDir, 'adapter_model.safetensors'));
  for (const name of expectedNames) assert.ok(saved.has(name), `adapter_model.safetensors holds ${name} (has ${[...saved.keys()].join(', ')})`);

  // The trained model, rebuilt as training held it: a fresh adapter of this configuration, its tensors from the last checkpoint.
  const trainedBase = loadBase();
  const random = new SeededRandom(1);
  const trained = createLoraAdapter(trainedBase.config, lora, 'default', () => random.next(), {
    baseModel: trainedBase,
    modulesToSave: lora.modulesToSave?.length ? initialReplacements(trainedBase, lora.modulesToSave) : undefined,
  });
  const start = new Map([...trainableParameters({ lora: trained })].map(([name, values]) => [name, Float32Array.from(values)]));
  const trainables: Trainables = { lora: trained };
  loadCheckpoint(join(taskDir, 'checkpoints', 'step-4'), trainableParameters(trainables));
  const checkpointed = trainableParameters(trainables);
  assert.deepEqual([...saved.keys()].sort(), [...checkpointed.keys()].sort(), 'the adapter holds exactly the trained tensors');
  for (const [name, values] of checkpointed) assert.deepEqual(saved.get(name), values, `${name}: the adapter holds the trained values`);
  for (const name of expectedNames) assert.ok(maxAbsDiff(saved.get(name)!, start.get(name)!) > 1e-4, `${name} moved from its starting values in training`);

  const trainingLoss = forwardBackward(trainedBase, batch, trainables, { gradients: false }).loss;
  new LoraModel(trainedBase).add(trained);
  const trainedLogits = inferenceLogits(trainedBase);

  const loaded = applyAdapter(loadBase(), adapterDir);
  const loadedLogits = inferenceLogits(loaded);
  assert.ok(maxAbsDiff(loadedLogits, trainedLogits) <= 1e-5, `logits differ by ${maxAbsDiff(loadedLogits, trainedLogits)}`);
  const loadedLoss = shiftedCrossEntropy(loadedLogits, batch, loaded.config.vocabSize);
  assert.ok(Math.abs(loadedLoss - trainingLoss) <= 1e-5, `loss ${loadedLoss} from the loaded adapter, ${trainingLoss} in training`);
  // The replacements matter: without them the base model answers differently.
  assert.ok(maxAbsDiff(inferenceLogits(loadBase()), loadedLogits) > 1e-3);
}

test('modules_to_save trained through tuneloop train: peft-named replacements in the adapter, reproduced on a fresh base', () => {
  const taskDir = trainThroughCli('mts', '{type: lora, r: 4, lora_alpha: 8, target_modules: [query_key_value], modules_to_save: [input_layernorm, lm_head]}');
  checkTrainedAdapter(taskDir, { r: 4, loraAlpha: 8, loraDropout: 0.05, targetModules: ['query_key_value'], useRslora: false, modulesToSave: ['input_layernorm', 'lm_head'] }, [
    'base_model.model.transformer.h.0.input_layernorm.weight',
    'base_model.model.transformer.h.0.input_layernorm.bias',
    'base_model.model.transformer.h.1.input_layernorm.weight',
    'base_model.model.transformer.h.1.input_layernorm.bias',
    'base_model.model.lm_head.weight',
  ]);
});

test('DoRA trained through tuneloop train: magnitudes in the adapter, reproduced on a fresh base', () => {
  const taskDir = trainThroughCli('dora', '{type: lora, r: 4, lora_alpha: 8, target_modules: [query_key_value], use_dora: true}');
  checkTrainedAdapter(taskDir, { r: 4, loraAlpha: 8, loraDropout: 0.05, targetModules: ['query_key_value'], useRslora: false, useDora: true }, [
    `${QKV0}.lora_magnitude_vector`,
    'base_model.model.transformer.h.1.self_attention.query_key_value.lora_magnitude_vector',
    `${QKV0}.lora_B.weight`,
  ]);
});

/** Kills the child after its step-4 checkpoint, resumes it, and compares every final tensor with an uninterrupted run's, bit for bit. */
function checkKillAndResume(variant: TrainChildVariant, trainedBesidesLora: readonly string[]): void {
  const straight = join(scratch, `${variant}-straight`);
  runTrainChild(straight, variant);
  const killed = join(scratch, `${variant}-killed`);
  killTrainChildAfterStep5(killed, variant);
  assert.ok(!existsSync(join(killed, 'final.safetensors')), 'the first run was killed before finishing');

  // The checkpoint the resume starts from holds these tensors and both AdamW moments of each.
  const checkpoint = join(killed, 'checkpoints', 'step-4');
  const parameters = readTensors(join(checkpoint, 'parameters.safetensors'));
  const moments = readTensors(join(checkpoint, 'optimizer.safetensors'));
  for (const name of trainedBesidesLora) {
    assert.ok(parameters.has(name), `checkpoint parameters hold ${name}`);
    assert.ok(moments.has(`${name}.exp_avg`) && moments.has(`${name}.exp_avg_sq`), `checkpoint optimizer state holds ${name}'s moments`);
  }

  assert.doesNotMatch(runTrainChild(killed, variant), /step [1-4] /, 'the resumed run starts after its checkpoint');
  assert.match(readFileSync(join(killed, 'train_log.jsonl'), 'utf8'), /"event":"resume","step":4/);
  const a = trainChildFinalTensors(straight);
  const b = trainChildFinalTensors(killed);
  for (const name of trainedBesidesLora) assert.ok(a.has(name), `the run trains ${name}`);
  assert.deepEqual([...b.keys()], [...a.keys()]);
  for (const [name, values] of a) assert.deepEqual(b.get(name), values, name);
}

test('a modules_to_save run killed with SIGKILL resumes to the same replacements as an uninterrupted run', () => {
  const replacements = CHILD_MODULES_TO_SAVE.flatMap((entry) =>
    entry === 'lm_head' ? ['base_model.model.lm_head.weight'] : [0, 1].flatMap((layer) => ['weight', 'bias'].map((part) => `base_model.model.transformer.h.${layer}.${entry}.${part}`)),
  );
  checkKillAndResume('modules_to_save', replacements);
});

test('a DoRA run killed with SIGKILL resumes to the same magnitudes as an uninterrupted run', () => {
  checkKillAndResume('dora', [`${QKV0}.lora_magnitude_vector`, 'base_model.model.transformer.h.1.mlp.dense_4h_to_h.lora_magnitude_vector']);
});

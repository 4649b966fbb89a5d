import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { TypeScriptBackend } from '../../src/engine/backends/typescript.js';
import { InvalidInputError } from '../../src/errors.js';
import { SeededRandom } from '../../src/inference/sampling.js';
import { BloomModel } from '../../src/models/bloom/model.js';
import { createLoraAdapter } from '../../src/peft/lora/model.js';
import { learningRate } from '../../src/train/schedule.js';
import { type TrainerOptions, epochOrder, rewindLog, train } from '../../src/train/trainer.js';
import { loadReference } from '../helpers/reference.js';
import { killTrainChildAfterStep5, patternBatches, runTrainChild, trainChildFinalTensors } from '../helpers/train-child.js';

const scratch = mkdtempSync(join(tmpdir(), 'tuneloop-trainer-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

test('a run killed with SIGKILL resumes to the same final weights as an uninterrupted run', () => {
  const straight = join(scratch, 'straight');
  assert.match(runTrainChild(straight, 'lora'), /step 10 /);

  const killed = join(scratch, 'killed');
  killTrainChildAfterStep5(killed, 'lora');
  assert.ok(!existsSync(join(killed, 'final.safetensors')), 'the first run was killed before finishing');
  assert.doesNotMatch(runTrainChild(killed, 'lora'), /step [1-4] /, 'the resumed run starts after its checkpoint');
  const log = readFileSync(join(killed, 'train_log.jsonl'), 'utf8');
  assert.match(log, /"event":"resume","step":4/);
  // Steps 5.. that the killed run logged after its step-4 checkpoint were cut from the log on resume.
  const records = log.trim().split('\n').map((line) => JSON.parse(line) as { event: string; step: number });
  assert.deepEqual(records.filter((r) => r.event === 'step').map((r) => r.step), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.deepEqual(records.filter((r) => r.event === 'end').map((r) => r.step), [10]);

  const a = trainChildFinalTensors(straight);
  const b = trainChildFinalTensors(killed);
  assert.deepEqual([...a.keys()], [...b.keys()]);
  for (const [name, values] of a) assert.deepEqual(b.get(name), values, name);
});

test('training lowers the loss; validation picks the best step; early stopping ends the run', () => {
  const model = BloomModel.load(loadReference('a').checkpointDir, { backend: new TypeScriptBackend(), dtype: 'f32' });
  const random = new SeededRandom(2);
  const lora = createLoraAdapter(model.config, { r: 8, loraAlpha: 16, loraDropout: 0, targetModules: ['query_key_value'], useRslora: false }, 'default', () => random.next());
  const losses: number[] = [];
  const summary = train({
    model,
    trainables: { lora },
    trainBatches: patternBatches(6, 1),
    validationBatches: patternBatches(2, 99),
    epochs: 5,
    adamw: { lr: 1e-2 },
    evalEvery: 3,
    earlyStoppingPatience: 2,
    outputDir: join(scratch, 'learn'),
    seed: 1,
    resume: false,
    onStep: (e) => losses.push(e.loss),
  });
  assert.ok(losses[losses.length - 1] < losses[0] * 0.7, `loss went from ${losses[0]} to ${losses[losses.length - 1]}`);
  assert.ok(summary.bestValidationLoss !== null && summary.bestStep !== null);
  assert.ok(existsSync(join(scratch, 'learn', 'best', 'parameters.safetensors')));
});

test('schedules: linear and cosine decay after warmup', () => {
  const base = { baseLr: 1, warmupSteps: 4, totalSteps: 12 };
  assert.equal(learningRate({ ...base, kind: 'linear' }, 0), 0);
  assert.equal(learningRate({ ...base, kind: 'linear' }, 2), 0.5);
  assert.equal(learningRate({ ...base, kind: 'linear' }, 4), 1);
  assert.equal(learningRate({ ...base, kind: 'linear' }, 8), 0.5);
  assert.ok(Math.abs(learningRate({ ...base, kind: 'cosine' }, 8) - 0.5) < 1e-12);
  assert.equal(learningRate({ ...base, kind: 'constant' }, 11), 1);
});

test('epoch order is a seeded permutation', () => {
  const order = epochOrder(10, 3, 0);
  assert.deepEqual([...order].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(epochOrder(10, 3, 0), order);
  assert.notDeepEqual(epochOrder(10, 3, 1), order);
});

/** A LoRA run on fixture ckpt_a with a checkpoint at step 2; `overrides` change the run's options. */
function loraRun(outputDir: string, rank: number, overrides: Partial<TrainerOptions> = {}): { options: TrainerOptions; lora: ReturnType<typeof createLoraAdapter> } {
  const model = BloomModel.load(loadReference('a').checkpointDir, { backend: new TypeScriptBackend(), dtype: 'f32' });
  const random = new SeededRandom(4);
  const lora = createLoraAdapter(model.config, { r: rank, loraAlpha: 2 * rank, loraDropout: 0, targetModules: ['query_key_value'], useRslora: false }, 'default', () => random.next());
  const options: TrainerOptions = {
    model,
    trainables: { lora },
    trainBatches: patternBatches(3, 7),
    epochs: 1,
    maxSteps: 2,
    adamw: { lr: 5e-3 },
    checkpointEvery: 2,
    outputDir,
    seed: 3,
    configRecord: { 'method.r': rank },
    ...overrides,
  };
  return { options, lora };
}

test('a resume under another configuration is refused naming each changed field, before any tensor is read', () => {
  const dir = join(scratch, 'changed');
  train(loraRun(dir, 4).options);
  rmSync(join(dir, 'train_log.jsonl'));
  assert.throws(
    () => train(loraRun(dir, 8).options),
    (e: unknown) => InvalidInputError.isInstance(e) && e.message === `output_dir: checkpoint in ${join(dir, 'checkpoints', 'step-2')} was written by a run with another configuration: method.r was 4, now 8`,
  );
  // Settings the caller does not record are still compared, as the loop's own (trainer.*) fields; the
  // live tensors are left as they were, and the log is not touched.
  const { options, lora } = loraRun(dir, 4, { adamw: { lr: 1e-2 }, seed: 9 });
  const initial = [...lora.tensors()].map(([name, t]) => [name, Float32Array.from(t.data as Float32Array)] as const);
  assert.throws(() => train(options), /with another configuration: trainer\.seed was 3, now 9; trainer\.lr was 0\.005, now 0\.01$/);
  for (const [name, values] of initial) assert.deepEqual(lora.tensors().get(name)?.data, values, name);
  assert.ok(!existsSync(join(dir, 'train_log.jsonl')));
});

test('max_steps may grow on resume: the run continues from its checkpoint', () => {
  const dir = join(scratch, 'longer');
  train(loraRun(dir, 4, { configRecord: { 'method.r': 4, 'training.max_steps': 2 } }).options);
  const summary = train(loraRun(dir, 4, { maxSteps: 3, configRecord: { 'method.r': 4, 'training.max_steps': 3 } }).options);
  assert.equal(summary.resumedFrom, 2);
  assert.equal(summary.steps, 3);
});

test('a run resumed at its last step reports the loss and tokens it trained on', () => {
  const dir = join(scratch, 'at-end');
  const first = train(loraRun(dir, 4).options);
  const again = train(loraRun(dir, 4).options);
  assert.equal(again.resumedFrom, 2);
  assert.equal(again.finalLoss, first.finalLoss);
  assert.equal(again.tokens, first.tokens);
  assert.ok(first.tokens > 0 && first.finalLoss !== null && Number.isFinite(first.finalLoss));
});

test('a checkpoint from an older tuneloop, without a configuration record, is refused', () => {
  const dir = join(scratch, 'old');
  train(loraRun(dir, 4).options);
  const stateFile = join(dir, 'checkpoints', 'step-2', 'trainer_state.json');
  writeFileSync(stateFile, JSON.stringify({ step: 2, microBatches: 2, bestValidationLoss: null, bestStep: null, evaluationsWithoutImprovement: 0, configFingerprint: '0123456789abcdef', optimizer_step: 2 }));
  assert.throws(() => train(loraRun(dir, 4).options), /checkpoint in .*step-2 was written by an older tuneloop, which did not record its configuration/);
});

const SNAKE_CASE = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/;
function assertSnakeCaseKeys(value: unknown, where: string): void {
  if (Array.isArray(value)) value.forEach((item, i) => assertSnakeCaseKeys(item, `${where}[${i}]`));
  else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      assert.match(key, SNAKE_CASE, `${where}: key "${key}"`);
      assertSnakeCaseKeys(item, `${where}.${key}`);
    }
  }
}

test('the checkpoint state and the log use snake_case keys', () => {
  const dir = join(scratch, 'snake');
  train(loraRun(dir, 4, { validationBatches: patternBatches(1, 8), evalEvery: 1 }).options);
  for (const file of [join(dir, 'checkpoints', 'step-2', 'trainer_state.json'), join(dir, 'best', 'trainer_state.json')]) {
    assertSnakeCaseKeys(JSON.parse(readFileSync(file, 'utf8')), file);
  }
  const lines = readFileSync(join(dir, 'train_log.jsonl'), 'utf8').trim().split('\n');
  lines.forEach((line, i) => assertSnakeCaseKeys(JSON.parse(line), `train_log.jsonl:${i + 1}`));
  assert.match(lines[lines.length - 1], /"event":"end".*"final_loss":/);
});

test('rewinding the log keeps the records up to a step and drops a line cut short', () => {
  const path = join(scratch, 'rewind.jsonl');
  const step = (n: number) => JSON.stringify({ event: 'step', step: n });
  writeFileSync(path, `${step(1)}\n${step(2)}\n${JSON.stringify({ event: 'resume', step: 2 })}\n${step(3)}\n{"event":"st`);
  rewindLog(path, 3);
  assert.equal(readFileSync(path, 'utf8'), `${step(1)}\n${step(2)}\n${JSON.stringify({ event: 'resume', step: 2 })}\n${step(3)}\n`);
  rewindLog(path, 2);
  assert.equal(readFileSync(path, 'utf8'), `${step(1)}\n${step(2)}\n${JSON.stringify({ event: 'resume', step: 2 })}\n`);
  rewindLog(path, 0);
  assert.equal(readFileSync(path, 'utf8'), '');
});

test('a run resumed from the checkpoint of the step that stopped it early stays stopped', () => {
  const dir = join(scratch, 'stopped');
  // A large learning rate on one pattern overfits at once: the held-out loss rises and patience 1 ends the run.
  const run = () =>
    train(loraRun(dir, 4, { trainBatches: patternBatches(1, 7), validationBatches: patternBatches(2, 99), epochs: 20, maxSteps: undefined, adamw: { lr: 0.3 }, evalEvery: 1, earlyStoppingPatience: 1, checkpointEvery: 1 }).options);
  const first = run();
  assert.ok(first.stoppedEarly && first.steps < 20, `stopped early at ${first.steps}`);
  const again = run();
  assert.equal(again.resumedFrom, first.steps);
  assert.equal(again.steps, first.steps);
  assert.ok(again.stoppedEarly);
});

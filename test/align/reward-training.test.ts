import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parsePreferencePairs, readPreferencePairs } from '../../src/align/preference-pairs.js';
import { rewardBatch, type RewardBatch } from '../../src/align/reward-model/preference-batch.js';
import { rewardScores } from '../../src/align/reward-model/reward-head.js';
import { readRewardAdapter, saveRewardAdapter } from '../../src/align/reward-model/reward-adapter.js';
import { RewardModelTraining, SCORE_WEIGHT_NAME, rewardLossAndGradients, type RewardModelTrainables } from '../../src/align/reward-model/training-step.js';
import { preferencePairs, writePreferencePairs } from '../../src/align/simulated-rater/preference-pairs.js';
import { loadQuestions } from '../../src/align/simulated-rater/questions.js';
import { SimulatedRater } from '../../src/align/simulated-rater/rater.js';
import { AdapterError, DatasetError } from '../../src/errors.js';
import { SeededRandom } from '../../src/inference/sampling.js';
import { BloomModel } from '../../src/models/bloom/model.js';
import { createLoraAdapter } from '../../src/peft/lora/model.js';
import { forwardBackwardWithLoss } from '../../src/train/bloom-backward.js';
import { backendCases } from '../helpers/backends.js';
import { centralDifference } from '../helpers/gradient-checks.js';
import { loadReference } from '../helpers/reference.js';
import { repoRoot } from '../helpers/paths.js';

const cases = await backendCases();
const checkpointDir = loadReference('a').checkpointDir;
const dir = mkdtempSync(join(tmpdir(), 'tuneloop-reward-train-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Texts of space-separated token ids, so the tests pick exact tokens without a tokenizer (ckpt_a ships none). */
const idsOf = (text: string) => (text.trim() === '' ? [] : text.trim().split(/\s+/).map(Number));

/** Trainables with a nonzero LoRA B and score head, so that every parameter carries gradient. */
function randomTrainables(model: BloomModel, seed: number): RewardModelTrainables {
  const random = new SeededRandom(seed);
  const lora = createLoraAdapter(model.config, { r: 4, loraAlpha: 8, loraDropout: 0, targetModules: ['query_key_value', 'dense_4h_to_h'], useRslora: false }, 'default', () => random.next());
  for (const layer of lora.layers.values()) for (let i = 0; i < layer.b.length; i++) layer.b[i] = 0.05 * (random.next() - 0.5);
  const scoreWeight = Float32Array.from({ length: model.config.hiddenSize }, () => 0.2 * (random.next() - 0.5));
  return { lora, scoreWeight };
}

describe('reward pairs JSONL', () => {
  const named = (line: number, field: string) => (error: unknown) => DatasetError.isInstance(error) && error.file === 'p.jsonl' && error.line === line && error.field === field;
  test('a missing field, an empty completion, identical completions and a bad margin are DatasetErrors naming line and field', () => {
    const good = JSON.stringify({ prompt: 'q', chosen: 'a', rejected: 'b' });
    assert.throws(() => parsePreferencePairs(`${good}\n${JSON.stringify({ prompt: 'q', chosen: 'a' })}`, 'p.jsonl'), named(2, 'rejected'));
    assert.throws(() => parsePreferencePairs(JSON.stringify({ chosen: 'a', rejected: 'b' }), 'p.jsonl'), named(1, 'prompt'));
    assert.throws(() => parsePreferencePairs(`\n${JSON.stringify({ prompt: 'q', chosen: ' ', rejected: 'b' })}`, 'p.jsonl'), named(2, 'chosen'));
    assert.throws(() => parsePreferencePairs(JSON.stringify({ prompt: 'q', chosen: 'a', rejected: '' }), 'p.jsonl'), named(1, 'rejected'));
    assert.throws(() => parsePreferencePairs(JSON.stringify({ prompt: 'q', chosen: 'same', rejected: 'same' }), 'p.jsonl'), named(1, 'rejected'));
    assert.throws(() => parsePreferencePairs(JSON.stringify({ prompt: 'q', chosen: 'a', rejected: 'b', margin: 'big' }), 'p.jsonl'), named(1, 'margin'));
    assert.throws(() => readPreferencePairs(join(dir, 'absent.jsonl')), (error: unknown) => DatasetError.isInstance(error) && error.file === join(dir, 'absent.jsonl'));
  });

  test('chosen rows then rejected rows, each prompt + completion, right-padded with a mask; margins kept when every pair has one', () => {
    const pairs = parsePreferencePairs(
      [{ prompt: '5 6', chosen: '7', rejected: '8 9', margin: 2, source: 'x' }, { prompt: '10', chosen: '11 12 13', rejected: '14', margin: 1 }].map((p) => JSON.stringify(p)).join('\n'),
      'p.jsonl',
    );
    const batch = rewardBatch(pairs, idsOf, 3);
    assert.equal(batch.batch, 4);
    assert.equal(batch.pairs, 2);
    assert.equal(batch.seqLen, 4);
    assert.deepEqual([...batch.ids], [5, 6, 7, 3, 10, 11, 12, 13, 5, 6, 8, 9, 10, 14, 3, 3]);
    assert.deepEqual([...batch.mask], [1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0]);
    assert.deepEqual([...batch.margin!], [2, 1]);
    assert.equal(rewardBatch([pairs[0], { prompt: '1', chosen: '2', rejected: '3' }], idsOf, 3).margin, undefined);
  });
});

/** Two pairs of different lengths with margins: right padding in both halves. */
const fdPairs = parsePreferencePairs(
  [{ prompt: '5 17 23', chosen: '40 41', rejected: '60', margin: 0.5 }, { prompt: '9', chosen: '33 34 35', rejected: '70 71', margin: -0.25 }].map((p) => JSON.stringify(p)).join('\n'),
  'fd.jsonl',
);

for (const { name: backendName, backend, skipReason } of cases) {
  test(`${backendName} backend, ckpt_a: the reward step's loss and its LoRA and score-head gradients agree with central finite differences`, { skip: skipReason }, () => {
    const model = BloomModel.load(checkpointDir, { backend: backend!, dtype: 'f32' });
    const trainables = randomTrainables(model, 8);
    const batch = rewardBatch(fdPairs, idsOf, 3);
    const options = { centerRewardsCoefficient: 0.1 };
    const { loss, grads, rewardsChosen, rewardsRejected } = rewardLossAndGradients(model, batch, trainables, options);
    assert.equal(rewardsChosen.length, 2);
    assert.equal(rewardsRejected.length, 2);
    const parameters = new Map([...trainables.lora.tensors()].map(([name, tensor]) => [name, tensor.data as Float32Array]));
    parameters.set(SCORE_WEIGHT_NAME, trainables.scoreWeight);
    assert.deepEqual([...grads.keys()].sort(), [...parameters.keys()].sort(), 'every LoRA tensor and the head get a gradient');
    const lossValue = () => rewardLossAndGradients(model, batch, trainables, { ...options, gradients: false }).loss;
    assert.ok(Math.abs(lossValue() - loss) <= 1e-6 * Math.abs(loss), 'the loss without gradients equals the loss with them');
    const step = 1e-2;
    for (const [name, index] of [
      ['base_model.model.transformer.h.0.self_attention.query_key_value.lora_A.weight', 7],
      ['base_model.model.transformer.h.0.self_attention.query_key_value.lora_B.weight', 30],
      ['base_model.model.transformer.h.1.mlp.dense_4h_to_h.lora_A.weight', 12],
      ['base_model.model.transformer.h.1.mlp.dense_4h_to_h.lora_B.weight', 50],
      [SCORE_WEIGHT_NAME, 3],
      [SCORE_WEIGHT_NAME, 40],
    ] as const) {
      const numeric = centralDifference(parameters.get(name)!, index, step, lossValue);
      const analytic = grads.get(name)![index];
      assert.ok(Math.abs(numeric - analytic) <= 2e-3 * Math.max(Math.abs(numeric), 1e-3) + 1e-5, `${name}[${index}]: analytic ${analytic}, finite differences ${numeric}`);
    }
  });

  test(`${backendName} backend, ckpt_a: the reward adapter saves in peft's SEQ_CLS layout and reloads with its head, giving the same rewards`, { skip: skipReason }, () => {
    const model = BloomModel.load(checkpointDir, { backend: backend!, dtype: 'f32' });
    const trainables = randomTrainables(model, 9);
    const batch = rewardBatch(fdPairs, idsOf, 3);
    const before = rewardLossAndGradients(model, batch, trainables, { gradients: false });
    const out = join(dir, `adapter-${backendName}`);
    saveRewardAdapter(out, trainables, 'ckpt_a');
    const config = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(config.task_type, 'SEQ_CLS');
    assert.equal(config.modules_to_save, null);
    const reloaded = readRewardAdapter(out, model.config);
    assert.deepEqual([...reloaded.scoreWeight], [...trainables.scoreWeight]);
    const after = rewardLossAndGradients(model, batch, reloaded, { gradients: false });
    assert.deepEqual([...after.rewardsChosen], [...before.rewardsChosen]);
    assert.deepEqual([...after.rewardsRejected], [...before.rewardsRejected]);
  });
}

/** test/fixtures/align/reward/peft_seq_cls_*, written by scripts/reference/reward_adapter_peft_reference.py. */
interface PeftRewards {
  readonly input_ids: number[][];
  readonly attention_mask: number[][];
  readonly rewards: number[];
}

for (const { name: backendName, backend, skipReason } of cases) {
  test(`${backendName} backend, ckpt_a: an adapter saved by peft 0.7.1 for SEQ_CLS ("modules_to_save": null, head in the tensors) gives peft's rewards`, { skip: skipReason }, () => {
    const model = BloomModel.load(checkpointDir, { backend: backend!, dtype: 'f32' });
    const reference = JSON.parse(readFileSync(join(repoRoot, 'test', 'fixtures', 'align', 'reward', 'peft_seq_cls_rewards.json'), 'utf8')) as PeftRewards;
    const trainables = readRewardAdapter(join(repoRoot, 'test', 'fixtures', 'align', 'reward', 'peft_seq_cls_adapter'), model.config);
    const seqLen = reference.input_ids[0].length;
    const inputs = { ids: Int32Array.from(reference.input_ids.flat()), mask: Uint8Array.from(reference.attention_mask.flat()), batch: reference.input_ids.length };
    // The LoRA model's final hidden states, read through the training forward pass (no gradients).
    let rewards: Float32Array = new Float32Array(0);
    forwardBackwardWithLoss(
      model,
      inputs,
      { lora: trainables.lora },
      {
        on: 'hidden',
        lossAndGradient: ({ values, batch, width, mask }) => {
          rewards = rewardScores(values, mask, trainables.scoreWeight, { batch, seqLen, hiddenSize: width });
          return { loss: 0, gradient: new Float32Array(values.length) };
        },
      },
      { gradients: false },
    );
    reference.rewards.forEach((expected, row) => assert.ok(Math.abs(rewards[row] - expected) <= 1e-5 * Math.max(1, Math.abs(expected)), `row ${row}: ${rewards[row]} vs peft ${expected}`));
  });
}

test('a reward adapter without its head, or a causal-LM adapter, is an AdapterError naming the tensor or field', () => {
  const model = BloomModel.load(checkpointDir, { backend: cases[0].backend!, dtype: 'f32' });
  const trainables = randomTrainables(model, 10);
  const out = join(dir, 'causal');
  trainables.lora.save(out, 'ckpt_a');
  assert.throws(() => readRewardAdapter(out, model.config), (error: unknown) => AdapterError.isInstance(error) && /task_type/.test(error.message));
  const config = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(out, 'adapter_config.json'), JSON.stringify({ ...config, task_type: 'SEQ_CLS' }));
  assert.throws(() => readRewardAdapter(out, model.config), (error: unknown) => AdapterError.isInstance(error) && error.message.includes(SCORE_WEIGHT_NAME));
});

const trainingCase = cases.find((c) => c.name === 'native' && !c.skipReason) ?? cases[0];
test(`${trainingCase.name} backend, ckpt_a: 30 AdamW steps on simulated-rater pairs lower the Bradley-Terry loss on those pairs`, () => {
  const model = BloomModel.load(checkpointDir, { backend: trainingCase.backend!, dtype: 'f32' });
  const questions = loadQuestions(join(repoRoot, 'data', 'alignment', 'questions.jsonl')).filter((q) => q.kind === 'name').slice(0, 4);
  const rater = new SimulatedRater(questions, { seed: 3 });
  // Each question answered correctly, with an abstention, and with another question's answer: 3 pairs each.
  const pairs = questions.flatMap((q, i) => preferencePairs(rater.rank(q.question, [q.answer, "I don't know", questions[(i + 1) % questions.length].answer])));
  assert.equal(pairs.length, 12);
  const file = join(dir, 'pairs.jsonl');
  writePreferencePairs(file, pairs);
  // ckpt_a has no tokenizer: bytes folded into its vocabulary stand in for one.
  const encode = (text: string) => [...Buffer.from(text, 'utf8')].map((byte) => 3 + (byte % (model.config.vocabSize - 3)));
  const batch: RewardBatch = rewardBatch(readPreferencePairs(file), encode, 3);
  const trainables = randomTrainables(model, 11);
  const training = new RewardModelTraining(model, trainables, { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 });
  const losses: number[] = [];
  for (let step = 0; step < 30; step++) losses.push(training.step(batch).loss);
  const final = rewardLossAndGradients(model, batch, trainables, { gradients: false });
  console.log(`reward training on ${pairs.length} pairs: loss ${losses[0].toFixed(4)} -> ${final.loss.toFixed(4)} after 30 steps`);
  assert.ok(final.loss < 0.5 * losses[0], `loss ${losses[0]} -> ${final.loss}`);
  assert.ok(final.rewardsChosen.every((r, i) => r > final.rewardsRejected[i]), 'every training pair is ranked the rater\'s way');
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  type PairTokenizer,
  type TokenizedPair,
  ReferenceLogProbs,
  collatePreferencePairs,
  dpoLossAndGradients,
  dpoStep,
  tokenizePreferencePair,
  tokenizePreferencePairs,
} from '../../src/align/dpo/dpo-step.js';
import { sequenceLogProbs } from '../../src/align/dpo/sequence-logps.js';
import { type PreferencePair, parsePreferencePairs } from '../../src/align/preference-pairs.js';
import { asTrainingBackend } from '../../src/engine/training-backend.js';
import { DatasetError } from '../../src/errors.js';
import { SeededRandom } from '../../src/inference/sampling.js';
import { BloomModel } from '../../src/models/bloom/model.js';
import { createLoraAdapter, readLoraAdapter, type LoraAdapter } from '../../src/peft/lora/model.js';
import { AdamW } from '../../src/train/optimizer.js';
import { backendCases } from '../helpers/backends.js';
import { centralDifference } from '../helpers/gradient-checks.js';
import { assertClose } from '../helpers/numeric.js';
import { repoRoot } from '../helpers/paths.js';
import { loadReference } from '../helpers/reference.js';

const cases = await backendCases();
const ref = loadReference('a');
const PAD = 3;

/** One token per character (ids within ckpt_a's 512-word vocabulary), BLOOM's BOS 1 and EOS 2. */
const characterTokenizer: PairTokenizer = {
  encode: (text) => [...text].map((c) => 4 + (c.codePointAt(0)! % 500)),
  bosTokenId: 1,
  eosTokenId: 2,
  padTokenId: PAD,
};

/** Pairs as the simulated rater writes them: correct over abstained over wrong. */
const pairsText = [
  { prompt: 'Q: In which year did the Berlin Wall fall?\nA:', chosen: ' 1989', rejected: ' 1975' },
  { prompt: 'Q: What is the capital of Peru?\nA:', chosen: ' Lima', rejected: ' I am not sure.' },
  { prompt: 'Q: What is 7 times 8?\nA:', chosen: ' 56', rejected: ' 54' },
  { prompt: 'Q: Who wrote Hamlet?\nA:', chosen: ' I do not know.', rejected: ' Dickens' },
]
  .map((pair) => JSON.stringify({ ...pair, source: 'simulated_rater', margin: 1 }))
  .join('\n');

function randomLora(model: BloomModel): LoraAdapter {
  const random = new SeededRandom(21);
  const lora = createLoraAdapter(model.config, { r: 4, loraAlpha: 8, loraDropout: 0, targetModules: ['query_key_value', 'dense', 'dense_4h_to_h'], useRslora: false }, 'default', () => random.next());
  for (const layer of lora.layers.values()) for (let i = 0; i < layer.b.length; i++) layer.b[i] = 0.05 * (random.next() - 0.5);
  return lora;
}

function tokenizedPairs(): TokenizedPair[] {
  const pairs = parsePreferencePairs(pairsText, 'pairs.jsonl');
  return tokenizePreferencePairs(pairs, pairs.map((_, i) => i + 1), 'pairs.jsonl', characterTokenizer);
}

test('a pair becomes BOS + prompt + answer + EOS rows with labels -100 on BOS and the prompt; the batch pads chosen then rejected rows', () => {
  const pair = tokenizePreferencePair({ prompt: 'ab', chosen: 'c', rejected: 'de', source: 's', margin: 1 }, characterTokenizer, { file: 'p.jsonl', line: 1 });
  const [a, b, c, d, e] = characterTokenizer.encode('abcde');
  assert.deepEqual([...pair.chosenIds], [1, a, b, c, 2]);
  assert.deepEqual([...pair.chosenLabels], [-100, -100, -100, c, 2]);
  assert.deepEqual([...pair.rejectedIds], [1, a, b, d, e, 2]);
  assert.deepEqual([...pair.rejectedLabels], [-100, -100, -100, d, e, 2]);
  const batch = collatePreferencePairs([pair], PAD);
  assert.equal(batch.seqLen, 6);
  assert.deepEqual([...batch.inputs.ids], [1, a, b, c, 2, PAD, 1, a, b, d, e, 2]);
  assert.deepEqual([...batch.inputs.mask], [1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1]);
  assert.deepEqual([...batch.labels], [-100, -100, -100, c, 2, -100, -100, -100, -100, d, e, 2]);
});

test('a prompt whose last token merges with the answer splits one token earlier, as trl build_tokenized_answer', () => {
  // "xy" is one token when the two are adjacent, so "x" + "y..." encodes the prompt's x inside the merged token.
  const merging: PairTokenizer = { ...characterTokenizer, encode: (text) => text.replace(/xy/g, 'Z').split('').map((ch) => ch.charCodeAt(0)) };
  const pair = tokenizePreferencePair({ prompt: 'ax', chosen: 'yb', rejected: 'c', source: 's', margin: 1 }, merging, { file: 'p.jsonl', line: 1 });
  assert.deepEqual([...pair.chosenIds], [1, 97, 90, 98, 2]);
  assert.deepEqual([...pair.chosenLabels], [-100, -100, 90, 98, 2]);
  assert.deepEqual([...pair.rejectedLabels], [-100, -100, -100, 99, 2]);
});

test('a row longer than max_length, or a tokenizer without BOS, is an error naming the file, line and field', () => {
  const long: PreferencePair = { prompt: 'abc', chosen: 'd', rejected: 'defghij', source: 's', margin: 1 };
  assert.throws(
    () => tokenizePreferencePairs([long], [7], 'pairs.jsonl', characterTokenizer, { maxLength: 8 }),
    (error: unknown) => DatasetError.isInstance(error) && error.line === 7 && error.field === 'rejected' && /pairs\.jsonl:7.*max_length 8/.test(error.message),
  );
  assert.throws(() => tokenizePreferencePair(long, { ...characterTokenizer, bosTokenId: undefined }, { file: 'p', line: 1 }), /tokenizer.*BOS/);
});

for (const { name: backendName, backend, skipReason } of cases) {
  test(`${backendName} backend: reference log-probabilities with the adapter left out equal the bare base model's, and are computed once per pair`, { skip: skipReason }, () => {
    const model = BloomModel.load(ref.checkpointDir, { backend: backend!, dtype: 'f32' });
    const pairs = tokenizedPairs();
    const reference = new ReferenceLogProbs(model);
    const first = reference.get(pairs.slice(0, 2), [0, 1], PAD);
    assert.equal(reference.size, 2);
    const all = reference.get(pairs, [0, 1, 2, 3], PAD);
    assert.equal(reference.size, 4);
    assert.deepEqual([...all.chosen.slice(0, 2)], [...first.chosen], 'cached values are reused');

    const bare = BloomModel.load(ref.checkpointDir, { backend: backend!, dtype: 'f32' });
    const batch = collatePreferencePairs(pairs, PAD);
    const { hidden } = bare.forward({ ids: batch.inputs.ids, batch: batch.inputs.batch, mask: batch.inputs.mask });
    const logits = bare.logits(hidden, batch.inputs.batch * batch.seqLen);
    const expected = sequenceLogProbs({ logits, labels: batch.labels, rows: batch.inputs.batch, seqLen: batch.seqLen, vocab: bare.config.vocabSize });
    for (let i = 0; i < 4; i++) {
      assert.ok(Math.abs(all.chosen[i] - expected[i]) < 1e-4, `chosen ${i}: ${all.chosen[i]} vs ${expected[i]}`);
      assert.ok(Math.abs(all.rejected[i] - expected[4 + i]) < 1e-4, `rejected ${i}: ${all.rejected[i]} vs ${expected[4 + i]}`);
    }
    // The policy (adapter on) differs, so the reference really left the adapter out.
    const policy = dpoLossAndGradients(model, randomLora(model), reference, pairs, [0, 1, 2, 3], { loss: { lossType: 'sigmoid', beta: 0.1 }, padTokenId: PAD });
    assert.notEqual(policy.metrics['rewards/chosen'], 0);
    // IPO averages log-probabilities (trl's concatenated_forward), so a summed reference cache is refused.
    assert.throws(() => dpoLossAndGradients(model, randomLora(model), reference, pairs, [0, 1, 2, 3], { loss: { lossType: 'ipo', beta: 0.1 }, padTokenId: PAD }), /average_log_prob.*true for the policy but false/);
    const averaged = new ReferenceLogProbs(model, { average: true });
    const ipo = dpoLossAndGradients(model, randomLora(model), averaged, pairs, [0, 1, 2, 3], { loss: { lossType: 'ipo', beta: 0.1 }, padTokenId: PAD });
    assert.ok(Number.isFinite(ipo.loss) && ipo.loss > 0);
    const chosenTokens = pairs.map((p) => p.chosenLabels.filter((l) => l !== -100).length);
    const averagedLogps = averaged.get(pairs, [0, 1, 2, 3], PAD);
    for (let i = 0; i < 4; i++) assert.ok(Math.abs(averagedLogps.chosen[i] - expected[i] / chosenTokens[i]) < 1e-5, `averaged chosen ${i}`);
  });

  test(`${backendName} backend: rows, reference log-probabilities, loss, metrics and LoRA gradients match trl + peft on ckpt_a's fixture adapter`, { skip: skipReason }, () => {
    // scripts/reference/dpo_step_reference.py: trl's tokenize_row, collator, concatenated_forward and dpo_loss, autograd.
    const expected = JSON.parse(readFileSync(join(repoRoot, 'test', 'fixtures', 'align', 'dpo', 'ckpt_a_dpo_step.json'), 'utf8')) as Record<string, number[] | number[][] | number | Record<string, number[]>>;
    const pairs = tokenizedPairs();
    const unpadded = (rows: number[][], pad: number) => rows.map((r) => { const end = r.length - [...r].reverse().findIndex((v) => v !== pad); return r.slice(0, end); });
    assert.deepEqual(pairs.map((p) => [...p.chosenIds]), unpadded(expected.chosen_input_ids as number[][], PAD));
    assert.deepEqual(pairs.map((p) => [...p.rejectedLabels]), unpadded(expected.rejected_labels as number[][], -100));
    const model = BloomModel.load(ref.checkpointDir, { backend: backend!, dtype: 'f32' });
    const lora = readLoraAdapter(join(ref.checkpointDir, '..', 'ref_a', 'lora_adapter'), model.config);
    const reference = new ReferenceLogProbs(model);
    const indices = [0, 1, 2, 3];
    const result = dpoLossAndGradients(model, lora, reference, pairs, indices, { loss: { lossType: 'sigmoid', beta: 0.5, labelSmoothing: 0.1 }, padTokenId: PAD });
    const referenceLogps = reference.get(pairs, indices, PAD);
    assertClose(referenceLogps.chosen, expected.reference_chosen_logps as number[], 1e-4, 'reference chosen');
    assertClose(referenceLogps.rejected, expected.reference_rejected_logps as number[], 1e-4, 'reference rejected');
    assert.ok(Math.abs(result.loss - (expected.loss as number)) < 1e-5, `loss ${result.loss} vs ${expected.loss as number}`);
    assert.ok(Math.abs(result.metrics['rewards/chosen'] - (expected.rewards_chosen as number)) < 1e-5);
    assert.ok(Math.abs(result.metrics['rewards/rejected'] - (expected.rewards_rejected as number)) < 1e-5);
    assert.equal(result.metrics['rewards/accuracies'], expected.rewards_accuracies);
    const grads = expected.grads as Record<string, number[]>;
    assert.deepEqual([...result.grads.keys()].sort(), Object.keys(grads).sort());
    for (const [name, grad] of Object.entries(grads)) assertClose(result.grads.get(name)!, grad, 1e-4, name);
  });

  test(`${backendName} backend: the DPO step's LoRA gradients agree with central finite differences of the DPO loss`, { skip: skipReason }, () => {
    const model = BloomModel.load(ref.checkpointDir, { backend: backend!, dtype: 'f32' });
    const lora = randomLora(model);
    const pairs = tokenizedPairs().slice(0, 2);
    const reference = new ReferenceLogProbs(model);
    const options = { loss: { lossType: 'sigmoid' as const, beta: 0.5, labelSmoothing: 0.1 }, padTokenId: PAD };
    const { grads, loss } = dpoLossAndGradients(model, lora, reference, pairs, [0, 1], options);
    assert.ok(loss > 0);
    const parameters = new Map([...lora.tensors()].map(([name, tensor]) => [name, tensor.data as Float32Array]));
    const lossValue = () => dpoLossAndGradients(model, lora, reference, pairs, [0, 1], { ...options, forward: { gradients: false } }).loss;
    const step = 1e-2;
    for (const [name, index] of [
      ['base_model.model.transformer.h.0.self_attention.query_key_value.lora_A.weight', 7],
      ['base_model.model.transformer.h.0.self_attention.query_key_value.lora_B.weight', 30],
      ['base_model.model.transformer.h.1.self_attention.dense.lora_A.weight', 12],
      ['base_model.model.transformer.h.1.mlp.dense_4h_to_h.lora_B.weight', 50],
    ] as const) {
      const numeric = centralDifference(parameters.get(name)!, index, step, lossValue);
      const analytic = grads.get(name)![index];
      assert.ok(Math.abs(numeric - analytic) < 2e-3 * Math.max(1e-2, Math.abs(analytic)) + 2e-5, `${name}[${index}]: ${analytic} vs ${numeric}`);
    }
  });
}

test('a short DPO loop on simulated-rater pairs lowers the loss and raises reward accuracy and margin on its training pairs', () => {
  const backend = cases.find((c) => c.backend && !c.skipReason && c.name === 'native')?.backend ?? cases[0].backend!;
  const model = BloomModel.load(ref.checkpointDir, { backend, dtype: 'f32' });
  // A fresh adapter (B zero), as training starts: the policy equals the reference, so the first loss is log 2.
  const random = new SeededRandom(5);
  const lora = createLoraAdapter(model.config, { r: 4, loraAlpha: 8, loraDropout: 0, targetModules: ['query_key_value', 'dense', 'dense_4h_to_h'], useRslora: false }, 'default', () => random.next());
  const pairs = tokenizedPairs();
  const indices = [0, 1, 2, 3];
  const reference = new ReferenceLogProbs(model);
  const parameters = new Map([...lora.tensors()].map(([name, tensor]) => [name, tensor.data as Float32Array]));
  const optimizer = new AdamW(asTrainingBackend(backend), parameters, { lr: 5e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 });
  const options = { loss: { lossType: 'sigmoid' as const, beta: 0.1 }, padTokenId: PAD };
  const first = dpoStep(model, lora, reference, optimizer, pairs, indices, options);
  for (let step = 1; step < 15; step++) dpoStep(model, lora, reference, optimizer, pairs, indices, options);
  const after = dpoLossAndGradients(model, lora, reference, pairs, indices, { ...options, forward: { gradients: false } });
  console.log(`DPO loop (ckpt_a, 4 pairs, 15 steps, lr 5e-3, beta 0.1): loss ${first.loss.toFixed(4)} -> ${after.loss.toFixed(4)}, accuracies ${first.metrics['rewards/accuracies']} -> ${after.metrics['rewards/accuracies']}, margins ${first.metrics['rewards/margins'].toFixed(4)} -> ${after.metrics['rewards/margins'].toFixed(4)}`);
  assert.ok(Math.abs(first.loss - Math.log(2)) < 1e-6, `first loss ${first.loss}`);
  assert.ok(after.loss < first.loss - 0.05, `loss ${first.loss} -> ${after.loss}`);
  assert.equal(after.metrics['rewards/accuracies'], 1);
  assert.ok(after.metrics['rewards/margins'] > first.metrics['rewards/margins']);
});

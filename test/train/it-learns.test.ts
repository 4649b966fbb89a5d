/**
 * The learning test: each fine-tuning method, run end to end as `tuneloop train` runs it (config →
 * training → adapter files → adapter loaded onto a fresh base), lifts held-out accuracy on the shipped
 * sentiment task from chance to well above it. The base is the shipped demo model, built here from what
 * the project ships; its weights are random, so everything it gets right it learned in this test.
 * Accuracy is multiple choice as lm-evaluation-harness scores it: the label whose tokens are likelier.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { selectBackend } from '../../src/engine/select-backend.js';
import { scoreLoglikelihood } from '../../src/inference/score.js';
import type { CausalLM } from '../../src/models/causal-lm.js';
import { makeDemoModel } from '../../src/models/demo-model.js';
import { BloomModel } from '../../src/models/bloom/model.js';
import { applyAdapter } from '../../src/peft/apply-adapter.js';
import { loadTokenizer } from '../../src/tokenizer/tokenizer.js';
import { parseTrainConfig } from '../../src/train/config.js';
import { loadRecords } from '../../src/train/data/records.js';
import { formatRecord } from '../../src/train/data/templates.js';
import { trainTasks } from '../../src/train/run-tasks.js';
import { repoRoot } from '../helpers/paths.js';

const scratch = mkdtempSync(join(tmpdir(), 'tuneloop-learns-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const modelDir = join(scratch, 'demo');
await makeDemoModel(modelDir);
const tokenizer = await loadTokenizer(modelDir);
const backend = await selectBackend();
const taskFile = (split: string) => join(repoRoot, 'data', 'tasks', `sentiment.${split}.jsonl`);
const heldOut = (await loadRecords(taskFile('valid'))).map((record) => formatRecord(record));
const LABELS = [' positive', ' negative'];

function heldOutAccuracy(model: CausalLM): number {
  const encode = (text: string) => tokenizer.encode(text, { addSpecialTokens: false });
  const requests = heldOut.flatMap((row) => LABELS.map((label) => ({ context: encode(row.prompt), continuation: encode(label) })));
  const scores = scoreLoglikelihood(model, requests, { batchSize: 32 });
  let correct = 0;
  heldOut.forEach((row, i) => {
    const chosen = scores[2 * i].logLikelihood >= scores[2 * i + 1].logLikelihood ? LABELS[0] : LABELS[1];
    if (chosen === row.completion) correct++;
  });
  return correct / heldOut.length;
}

const ALL_LINEARS = ['query_key_value', 'dense', 'dense_h_to_4h', 'dense_4h_to_h'];
const METHODS: { name: string; method: Record<string, unknown>; learningRate: number; steps: number }[] = [
  { name: 'LoRA', method: { type: 'lora', r: 8, target_modules: ALL_LINEARS }, learningRate: 3e-3, steps: 100 },
  { name: 'QLoRA (NF4 base)', method: { type: 'qlora', r: 8, target_modules: ALL_LINEARS }, learningRate: 3e-3, steps: 100 },
  { name: 'prompt tuning', method: { type: 'prompt_tuning', num_virtual_tokens: 10 }, learningRate: 3e-2, steps: 200 },
  { name: 'bias tuning', method: { type: 'bias' }, learningRate: 3e-2, steps: 150 },
  { name: 'LayerNorm tuning', method: { type: 'layernorm' }, learningRate: 3e-2, steps: 150 },
];

for (const { name, method, learningRate, steps } of METHODS) {
  test(`${name} learns the held-out sentiment reviews`, async (t) => {
    const config = parseTrainConfig({
      model: modelDir,
      output_dir: join(scratch, String(method.type)),
      seed: 1,
      method,
      data: { max_length: 32, validation_fraction: 0 },
      training: { epochs: 100, max_steps: steps, batch_size: 16, learning_rate: learningRate, weight_decay: 0, schedule: 'constant' },
      tasks: [{ name: 'sentiment', train: taskFile('train') }],
    });
    const quantization = method.type === 'qlora' ? ('nf4' as const) : undefined;
    const load = () => BloomModel.load(modelDir, { backend, dtype: 'f32', quantization });
    const [result] = await trainTasks(load(), tokenizer, config);

    const model = load();
    const before = heldOutAccuracy(model);
    const after = heldOutAccuracy(applyAdapter(model, result.adapterDir));
    t.diagnostic(`held-out accuracy ${before.toFixed(3)} -> ${after.toFixed(3)} in ${steps} steps`);
    assert.ok(before > 0.3 && before < 0.7, `the untrained base is near chance: ${before}`);
    assert.ok(after >= 0.8, `held-out accuracy after ${steps} steps: ${after} (before ${before})`);
  });
}

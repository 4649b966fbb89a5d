import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { TypeScriptBackend } from '../../src/engine/backends/typescript.js';
import { SafetensorsFile } from '../../src/formats/safetensors.js';
import { SeededRandom } from '../../src/inference/sampling.js';
import { BloomModel } from '../../src/models/bloom/model.js';
import { createLoraAdapter } from '../../src/peft/lora/model.js';
import { learningRate } from '../../src/train/schedule.js';
import { epochOrder, train } from '../../src/train/trainer.js';
import { repoRoot } from '../helpers/paths.js';
import { loadReference } from '../helpers/reference.js';
import { patternBatches } from '../helpers/train-child.js';

const scratch = mkdtempSync(join(tmpdir(), 'tuneloop-trainer-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const child = join(repoRoot, 'dist', 'test', 'helpers', 'train-child.js');

function finalWeights(dir: string): Map<string, Float32Array> {
  const file = SafetensorsFile.open(join(dir, 'final.safetensors'));
  const out = new Map([...file.entries.keys()].map((name) => [name, file.read(name).data as Float32Array]));
  file.close();
  return out;
}

test('a run killed with SIGKILL resumes to the same final weights as an uninterrupted run', async () => {
  const straight = join(scratch, 'straight');
  const run = spawnSync(process.execPath, [child, straight], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /step 10 /);

  const killed = join(scratch, 'killed');
  await new Promise<void>((resolve) => {
    const proc = spawn(process.execPath, [child, killed]);
    let output = '';
    proc.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      // Step 5 follows the step-4 checkpoint: the kill lands mid-run with work since the checkpoint.
      if (output.includes('step 5 ')) proc.kill('SIGKILL');
    });
    proc.on('exit', () => resolve());
  });
  assert.ok(!existsSync(join(killed, 'final.safetensors')), 'the first run was killed before finishing');
  const resumed = spawnSync(process.execPath, [child, killed], { encoding: 'utf8' });
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.doesNotMatch(resumed.stdout, /step [1-4] /, 'the resumed run starts after its checkpoint');
  const log = readFileSync(join(killed, 'train_log.jsonl'), 'utf8');
  assert.match(log, /"event":"resume","step":4/);

  const a = finalWeights(straight);
  const b = finalWeights(killed);
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

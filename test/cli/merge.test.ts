import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { SafetensorsFile, writeSafetensors } from '../../src/formats/safetensors.js';
import { lnTuningConfigJson } from '../../src/peft/selective/model.js';
import { repoRoot } from '../helpers/paths.js';
import { loadReference } from '../helpers/reference.js';

const cli = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const ref = loadReference('a');
const base = ref.checkpointDir;
const loraAdapter = join(base, '..', 'ref_a', 'lora_adapter');
const promptAdapter = join(base, '..', 'ref_a', 'prompt_tuning_adapter');
const hidden = (JSON.parse(readFileSync(join(base, 'config.json'), 'utf8')) as { hidden_size: number }).hidden_size;
const ids = Array.from(ref.ints('input_ids').subarray(0, 12)).join(',');
const scratch = mkdtempSync(join(tmpdir(), 'tuneloop-merge-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, TUNELOOP_BACKEND: 'typescript' } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Values that differ from any trained checkpoint's: 0.5 + i/1000. */
function ramp(n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => 0.5 + i / 1000);
}

/** The log-likelihood of a fixed continuation, as one number. */
function score(args: string[]): number {
  const scored = run(['score', ...args, '--context-ids', ids, '--continuation-ids', '5,6,7', '--json']);
  assert.equal(scored.status, 0, scored.stderr);
  return (JSON.parse(scored.stdout) as { log_likelihood: number }).log_likelihood;
}

/** Merges, then checks the merged checkpoint scores as the base with --adapter does, and differs from the base. */
function mergesLikeTheAdapter(adapter: string, out: string, method: string): void {
  const merged = run(['merge', '--model', base, '--adapter', adapter, '--out', out]);
  assert.equal(merged.status, 0, merged.stderr);
  assert.match(merged.stderr, new RegExp(`merged \\d+ weight\\(s\\) \\(${method}\\)`));
  const viaAdapter = score(['--model', base, '--adapter', adapter]);
  assert.ok(Math.abs(viaAdapter - score(['--model', out])) < 1e-4, 'the merged checkpoint scores as the adapter does');
  assert.ok(Math.abs(viaAdapter - score(['--model', base])) > 1e-3, 'the adapter changes the scores');
}

test('merge writes bias/selective tuning tensors in place of the base ones', () => {
  const adapter = join(scratch, 'bias-adapter');
  mkdirSync(adapter);
  const names = ['transformer.h.0.self_attention.query_key_value.bias', 'transformer.h.1.mlp.dense_4h_to_h.bias'];
  const sizes = [3 * hidden, hidden];
  writeFileSync(join(adapter, 'selective_tuning.json'), JSON.stringify({ format: 'tuneloop-selective-tuning', version: 1, spec: { kind: 'bias' }, tensors: names }));
  writeSafetensors(join(adapter, 'tuned_tensors.safetensors'), new Map(names.map((name, i) => [name, { dtype: 'f32', shape: [sizes[i]], data: ramp(sizes[i]) }] as const)));
  const out = join(scratch, 'merged-bias');
  mergesLikeTheAdapter(adapter, out, 'selective');
  const file = SafetensorsFile.open(join(out, 'model.safetensors'));
  assert.deepEqual(file.read(names[0], 'f32').data, ramp(sizes[0]));
  file.close();
  assert.equal((JSON.parse(readFileSync(join(out, 'tuneloop_merge.json'), 'utf8')) as { method: string; merged_tensors: number }).merged_tensors, 2);
});

test('merge writes LN tuning (peft LN_TUNING) tensors in place of the base LayerNorms', () => {
  const adapter = join(scratch, 'ln-adapter');
  mkdirSync(adapter);
  writeFileSync(join(adapter, 'adapter_config.json'), JSON.stringify(lnTuningConfigJson(['ln_f'], base)));
  writeSafetensors(
    join(adapter, 'adapter_model.safetensors'),
    new Map([
      ['base_model.model.transformer.ln_f.ln_tuning_layers.weight', { dtype: 'f32', shape: [hidden], data: ramp(hidden) }],
      ['base_model.model.transformer.ln_f.ln_tuning_layers.bias', { dtype: 'f32', shape: [hidden], data: ramp(hidden).map((v) => v - 0.5) }],
    ] as const),
  );
  mergesLikeTheAdapter(adapter, join(scratch, 'merged-ln'), 'ln_tuning');
});

test('merge refuses a prompt tuning adapter, stating what each adapter type merges', () => {
  const out = join(scratch, 'merged-prompt');
  const refused = run(['merge', '--model', base, '--adapter', promptAdapter, '--out', out]);
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, /"PROMPT_TUNING" adapter cannot be merged/);
  for (const kind of [/LoRA .*folded into each targeted weight/, /LN tuning .*bias and selective tuning .*replace the base's/, /prompt tuning .*nothing to merge, its virtual tokens are inputs/]) {
    assert.match(refused.stderr, kind);
  }
  assert.ok(!existsSync(out), 'nothing is written');
});

test('merge --out refuses a folder that holds files unless --overwrite, which replaces it whole', () => {
  const out = join(scratch, 'occupied');
  mkdirSync(out);
  writeFileSync(join(out, 'notes.txt'), 'keep me');
  const refused = run(['merge', '--model', base, '--adapter', loraAdapter, '--out', out]);
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, /--out: .*occupied already holds files; pass --overwrite to replace it/);
  assert.doesNotMatch(refused.stderr, /merged/);
  assert.deepEqual(readdirSync(out), ['notes.txt']);

  const replaced = run(['merge', '--model', base, '--adapter', loraAdapter, '--out', out, '--overwrite']);
  assert.equal(replaced.status, 0, replaced.stderr);
  assert.ok(!existsSync(join(out, 'notes.txt')), 'the old contents are gone');
  assert.ok(existsSync(join(out, 'model.safetensors')));
  assert.deepEqual(readdirSync(scratch).filter((name) => name.startsWith('.occupied')), [], 'no staging folder is left behind');

  const empty = join(scratch, 'empty-out');
  mkdirSync(empty);
  assert.equal(run(['merge', '--model', base, '--adapter', loraAdapter, '--out', empty]).status, 0, 'an empty folder is used as it is');
  const asFile = join(scratch, 'a-file');
  writeFileSync(asFile, '');
  assert.match(run(['merge', '--model', base, '--adapter', loraAdapter, '--out', asFile, '--overwrite']).stderr, /--out: .*a-file is a file/);
});

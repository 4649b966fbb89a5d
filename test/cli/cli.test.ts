import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadReference } from '../helpers/reference.js';
import { repoRoot } from '../helpers/paths.js';

const cli = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const ref = loadReference('a');
const scratch = mkdtempSync(join(tmpdir(), 'tuneloop-cli-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, TUNELOOP_BACKEND: 'typescript' } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('generate --ids --greedy --json prints new_tokens equal to Hugging Face greedy decoding', () => {
  const ids = Array.from(ref.ints('input_ids').subarray(0, 12)).join(',');
  const { status, stdout, stderr } = run(['generate', '--model', ref.checkpointDir, '--ids', ids, '--max-new-tokens', '10', '--greedy', '--json']);
  assert.equal(status, 0, stderr);
  const out = JSON.parse(stdout) as { new_tokens: number[]; log_probs: number[]; finish_reason: string };
  assert.deepEqual(out.new_tokens, Array.from(ref.ints('gen1_new_tokens')));
  assert.equal(out.log_probs.length, 10);
  assert.equal(out.finish_reason, 'length');
  assert.match(stderr, /decode .* tokens\/s/);
});

test('score --context-ids prints the log-likelihood and is_greedy', () => {
  const greedy = Array.from(ref.ints('gen1_new_tokens').subarray(0, 2)).join(',');
  const context = Array.from(ref.ints('input_ids').subarray(0, 12)).join(',');
  const { status, stdout, stderr } = run(['score', '--model', ref.checkpointDir, '--context-ids', context, '--continuation-ids', greedy, '--json']);
  assert.equal(status, 0, stderr);
  const out = JSON.parse(stdout) as { log_likelihood: number; is_greedy: boolean; token_log_probs: number[] };
  assert.equal(out.is_greedy, true);
  assert.equal(out.token_log_probs.length, 2);
  assert.ok(out.log_likelihood < 0);
});

test('score --requests names the line of a bad request', () => {
  const path = join(scratch, 'requests.jsonl');
  writeFileSync(path, '{"context_ids": [5], "continuation_ids": [6]}\n{"context_ids": [5]}\n');
  const { status, stderr } = run(['score', '--model', ref.checkpointDir, '--requests', path]);
  assert.equal(status, 2);
  assert.match(stderr, /requests\.jsonl:2: needs "continuation" or "continuation_ids"/);
});

test('info describes the checkpoint', () => {
  const { status, stdout } = run(['info', '--model', ref.checkpointDir, '--json']);
  assert.equal(status, 0);
  const info = JSON.parse(stdout) as { layers: number; heads: number; vocab_size: number; parameters: number; stored_dtypes: Record<string, number> };
  assert.deepEqual([info.layers, info.heads, info.vocab_size], [2, 4, 512]);
  assert.deepEqual(info.stored_dtypes, { f32: 29 });
});

test('bad input gets a clear message and exit code 2, never a stack trace', () => {
  const cases: [string[], RegExp][] = [
    [['generate', '--model', ref.checkpointDir, '--ids', '5,9999'], /--ids #1: token id 9999 is outside the vocabulary \[0, 512\)/],
    [['generate', '--model', ref.checkpointDir, '--ids', '5,x'], /--ids #1: must be comma-separated/],
    [['generate', '--model', ref.checkpointDir, '--prompt', 'hello'], /tokenizer\.json is missing/],
    [['generate', '--model', ref.checkpointDir, '--prompt', ''], /--prompt #1: is empty/],
    [['generate', '--model', ref.checkpointDir, '--ids', '5', '--greedy', '--temperature', '0.5'], /--greedy: cannot be combined/],
    [['generate', '--model', ref.checkpointDir, '--ids', '5', '--dtype', 'fp8'], /--dtype: must be fp32 or bf16/],
    [['generate', '--model', join(scratch, 'nowhere'), '--ids', '5'], /--model: .*nowhere does not exist/],
    [['generate', '--model', ref.checkpointDir, '--ids', '5', '--bogus'], /--bogus: is not an option of tuneloop generate/],
  ];
  for (const [args, pattern] of cases) {
    const { status, stderr } = run(args);
    assert.equal(status, 2, `${args.join(' ')} → ${stderr}`);
    assert.match(stderr, pattern);
    assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
  }
});

test('--help teaches each command', () => {
  for (const command of ['generate', 'score', 'info']) {
    const { status, stdout } = run([command, '--help']);
    assert.equal(status, 0);
    assert.match(stdout, new RegExp(`tuneloop ${command}`));
    assert.match(stdout, /Usage:/);
  }
  assert.match(run(['--help']).stdout, /Commands:/);
});

test('the demo model: text prompts, streaming output, stop sequences', async () => {
  const { makeDemoModel } = await import('../../src/models/demo-model.js');
  const dir = join(scratch, 'demo');
  await makeDemoModel(dir);
  const plain = run(['generate', '--model', dir, '--prompt', 'The tutor explains', '--max-new-tokens', '8', '--sample', '--seed', '3']);
  assert.equal(plain.status, 0, plain.stderr);
  assert.ok(plain.stdout.startsWith('The tutor explains'));
  assert.ok(plain.stdout.length > 'The tutor explains'.length + 1);
  const json = JSON.parse(run(['generate', '--model', dir, '--prompt', 'The tutor explains', '--max-new-tokens', '8', '--sample', '--seed', '3', '--json']).stdout) as { text: string; new_tokens: number[] };
  assert.equal(plain.stdout, `The tutor explains${json.text}\n`, 'streamed text equals the final text');
  const stopAt = json.text.trim().slice(0, 2);
  const stopped = JSON.parse(run(['generate', '--model', dir, '--prompt', 'The tutor explains', '--max-new-tokens', '8', '--sample', '--seed', '3', '--json', '--stop', stopAt]).stdout) as { text: string; finish_reason: string };
  assert.equal(stopped.finish_reason, 'stop');
  assert.ok(stopped.text.includes(stopAt));
  assert.ok(json.text.startsWith(stopped.text));
});

test('merge writes a checkpoint equal to peft merge_and_unload; --adapter applies LoRA and prompt tuning', async () => {
  const { BloomModel } = await import('../../src/models/bloom/model.js');
  const { TypeScriptBackend } = await import('../../src/engine/backends/typescript.js');
  const { SafetensorsFile } = await import('../../src/formats/safetensors.js');
  const { maxAbsDiff } = await import('../helpers/reference.js');
  const adapter = join(ref.checkpointDir, '..', 'ref_a', 'lora_adapter');
  const out = join(scratch, 'merged');
  const merged = run(['merge', '--model', ref.checkpointDir, '--adapter', adapter, '--out', out]);
  assert.equal(merged.status, 0, merged.stderr);
  assert.match(merged.stderr, /merged 2 weight\(s\)/);
  const file = SafetensorsFile.open(join(out, 'model.safetensors'));
  assert.ok(maxAbsDiff(file.read('transformer.h.0.self_attention.query_key_value.weight').data, ref.f32('lora_merged_qkv_weight_layer0')) < 1e-6);
  assert.ok(!file.has('lm_head.weight'), 'the tied lm_head stays unstored');
  file.close();
  const model = BloomModel.load(out, { backend: new TypeScriptBackend(), dtype: 'f32' });
  const mask = Uint8Array.from(ref.ints('attention_mask'));
  const logits = model.logits(model.forward({ ids: ref.ints('input_ids'), batch: 3, mask }).hidden, 36);
  assert.ok(maxAbsDiff(logits, ref.f32('lora_merged_logits')) < 1e-4);

  const ids = Array.from(ref.ints('input_ids').subarray(0, 12)).join(',');
  type Generated = { new_tokens: number[]; log_probs: number[] };
  const generateWith = (args: string[]) => JSON.parse(run(['generate', ...args, '--ids', ids, '--max-new-tokens', '5', '--json']).stdout) as Generated;
  const viaAdapter = generateWith(['--model', ref.checkpointDir, '--adapter', adapter]);
  const viaMerged = generateWith(['--model', out]);
  const base = generateWith(['--model', ref.checkpointDir]);
  assert.deepEqual(viaAdapter.new_tokens, viaMerged.new_tokens);
  viaAdapter.log_probs.forEach((p, i) => assert.ok(Math.abs(p - viaMerged.log_probs[i]) < 1e-4));
  assert.ok(Math.abs(viaAdapter.log_probs[0] - base.log_probs[0]) > 1e-3, 'the adapter changes the output');

  const prompt = join(ref.checkpointDir, '..', 'ref_a', 'prompt_tuning_adapter');
  const scored = run(['score', '--model', ref.checkpointDir, '--adapter', prompt, '--context-ids', ids, '--continuation-ids', '5,6', '--json']);
  assert.equal(scored.status, 0, scored.stderr);
  const bad = run(['generate', '--model', ref.checkpointDir, '--adapter', ref.checkpointDir, '--ids', ids]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /adapter_config\.json: missing: not a PEFT adapter directory \(this looks like a full model directory/);
});

test('train: a config with two tasks writes two peft adapters that generate can load; bad configs name the field', async () => {
  const { makeDemoModel } = await import('../../src/models/demo-model.js');
  const model = join(scratch, 'train-demo');
  await makeDemoModel(model);
  const data = join(repoRoot, 'data', 'tasks');
  const config = join(scratch, 'train.yaml');
  writeFileSync(
    config,
    [
      `model: ${model}`,
      `output_dir: ${join(scratch, 'runs')}`,
      'method: {type: lora, r: 4, target_modules: [query_key_value]}',
      'data: {max_length: 48}',
      'training: {epochs: 1, batch_size: 16, max_steps: 3, checkpoint_every: 2}',
      'tasks:',
      `  - {name: language, train: ${join(data, 'grammar.train.jsonl')}, validation: ${join(data, 'grammar.valid.jsonl')}}`,
      `  - {name: knowledge, train: ${join(data, 'capitals.train.jsonl')}}`,
    ].join('\n'),
  );
  const trained = run(['train', '--config', config]);
  assert.equal(trained.status, 0, trained.stderr);
  const adapters = trained.stdout.trim().split('\n');
  assert.equal(adapters.length, 2);
  assert.match(trained.stderr, /task language: 3 steps/);
  const generated = run(['generate', '--model', model, '--adapter', adapters[0], '--prompt', 'Which word goes before "apple", a or an? Answer:', '--max-new-tokens', '2', '--json']);
  assert.equal(generated.status, 0, generated.stderr);
  assert.equal((JSON.parse(generated.stdout) as { new_tokens: number[] }).new_tokens.length, 2);

  const overridden = run(['train', '--config', config, '--set', 'training.learning_rate=-1']);
  assert.equal(overridden.status, 2);
  assert.match(overridden.stderr, /train\.yaml: training\.learning_rate: must be > 0/);
  writeFileSync(join(scratch, 'bad.jsonl'), '{"prompt": "x", "completion": " y"}\n{"prompt": 3}\n');
  const badData = run(['train', '--config', config, '--set', `tasks=[{name: bad, train: ${join(scratch, 'bad.jsonl')}}]`]);
  assert.equal(badData.status, 2);
  assert.match(badData.stderr, /bad\.jsonl:2/);
});

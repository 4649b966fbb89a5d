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
    [['generate', '--model', join(scratch, 'nowhere'), '--ids', '5'], /has no config\.json/],
    [['generate', '--model', ref.checkpointDir, '--ids', '5', '--bogus'], /Unknown option '--bogus'/],
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

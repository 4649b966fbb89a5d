import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadTokenizer } from '../../../src/tokenizer/tokenizer.js';
import { repoRoot } from '../../helpers/paths.js';
import { loadReference } from '../../helpers/reference.js';
import { writeTinyModelDir } from '../../helpers/tiny-model-dir.js';

const cli = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const scratch = mkdtempSync(join(tmpdir(), 'tuneloop-generate-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
/** ckpt_a with a tokenizer.json whose ids 0..3 are <unk>, <s>, </s>, <pad>, all special. */
const tinyDir = writeTinyModelDir(join(scratch, 'tiny'));
const checkpointDir = loadReference('a').checkpointDir;

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cli, 'generate', ...args], { encoding: 'utf8', env: { ...process.env, TUNELOOP_BACKEND: 'typescript' } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

interface Generated {
  new_tokens: number[];
  text: string | null;
  log_probs: number[];
  finish_reason: string;
  prompt_tokens: number[];
  timings: { prefill_ms: number; decode_ms: number; decode_tokens_per_second: number | null };
}

function generated(args: string[]): Generated[] {
  const { status, stdout, stderr } = run(args);
  assert.equal(status, 0, stderr);
  return stdout.trim().split('\n').map((line) => JSON.parse(line) as Generated);
}

test('bad decoding flags are refused before the tokenizer or model loads and before the prompt is printed, by their flag names', () => {
  const cases: [string[], string][] = [
    [['--top-p', '2'], '--top-p: must be in (0, 1], got 2'],
    [['--temperature', '-1'], '--temperature: must be a positive number, got -1'],
    [['--temperature', '0'], '--temperature: must be a positive number, got 0'],
    [['--top-k', '-3'], '--top-k: must be a non-negative integer (0 turns it off), got -3'],
    [['--top-k', '2.5'], '--top-k: must be a non-negative integer (0 turns it off), got 2.5'],
    [['--seed', '0.5'], '--seed: must be an integer, got 0.5'],
    [['--repetition-penalty', '0'], '--repetition-penalty: must be a positive number (1 turns it off), got 0'],
    [['--repetition-penalty', '-1.2'], '--repetition-penalty: must be a positive number (1 turns it off), got -1.2'],
    [['--no-repeat-ngram-size', '1.5'], '--no-repeat-ngram-size: must be a non-negative integer (0 turns it off), got 1.5'],
    [['--min-new-tokens', '-2'], '--min-new-tokens: must be a non-negative integer, got -2'],
    [['--min-new-tokens', 'many'], '--min-new-tokens: must be a number, got "many"'],
    [['--max-new-tokens', '-5'], '--max-new-tokens: must be an integer of at least 1, got "-5"'],
    [['--backend', 'gpu'], '--backend: must be auto, native or typescript, got "gpu"'],
  ];
  for (const [flags, message] of cases) {
    const { status, stdout, stderr } = run(['--model', tinyDir, '--prompt', 'The tutor explains', ...flags]);
    assert.equal(status, 2, `${flags.join(' ')}: ${stderr}`);
    assert.equal(stdout, '', `${flags.join(' ')}: the prompt must not be printed`);
    assert.equal(stderr, `tuneloop generate: ${message}\n`, flags.join(' '));
  }
  const outside = run(['--model', tinyDir, '--ids', '5,9999']);
  assert.equal(outside.stderr, 'tuneloop generate: --ids #1: token id 9999 is outside the vocabulary [0, 512)\n');
});

test('--repetition-penalty and --no-repeat-ngram-size give Hugging Face generate\'s tokens, for one prompt and a padded batch', () => {
  const fixture = JSON.parse(readFileSync(join(repoRoot, 'test', 'fixtures', 'generation', 'ckpt_a.json'), 'utf8')) as {
    generations: { name: string; prompts: number[][]; new_tokens: number[][]; max_new_tokens: number }[];
  };
  const reference = (name: string) => fixture.generations.find((c) => c.name === name)!;
  const check = (name: string, flags: string[]) => {
    const c = reference(name);
    const out = generated(['--model', checkpointDir, ...c.prompts.flatMap((p) => ['--ids', p.join(',')]), '--max-new-tokens', String(c.max_new_tokens), '--json', ...flags]);
    assert.deepEqual(out.map((o) => o.new_tokens), c.new_tokens, name);
  };
  check('repetition_penalty 1.3', ['--repetition-penalty', '1.3']);
  check('no_repeat_ngram_size 2', ['--no-repeat-ngram-size', '2']);
  check('batch, repetition_penalty 1.2, no_repeat_ngram_size 3', ['--repetition-penalty', '1.2', '--no-repeat-ngram-size', '3']);
});

test('--min-new-tokens holds back the end-of-sequence token', () => {
  // The tiny model with <s> (id 1) as its end of sequence: greedy from 25,10,79 emits it second.
  const dir = writeTinyModelDir(join(scratch, 'eos-is-1'));
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, eos_token_id: 1 }));
  const args = ['--model', dir, '--ids', '25,10,79', '--max-new-tokens', '6', '--json'];
  const plain = generated(args)[0];
  assert.deepEqual([plain.new_tokens, plain.finish_reason], [[327, 1], 'eos']);
  const held = generated([...args, '--min-new-tokens', '3'])[0];
  assert.equal(held.new_tokens[0], 327);
  assert.ok(!held.new_tokens.slice(0, 3).includes(1), `no end of sequence among the first 3 tokens: ${held.new_tokens}`);
  assert.ok(held.new_tokens.length >= 3);
});

test('--ids generations carry their text when the model has tokenizer.json; special tokens are hidden unless asked for', async () => {
  const tokenizer = await loadTokenizer(tinyDir);
  const args = ['--model', tinyDir, '--ids', '25,10,79', '--max-new-tokens', '4', '--no-eos', '--json'];
  const hidden = generated(args)[0];
  assert.deepEqual(hidden.new_tokens, [327, 1, 327, 1], 'greedy emits <s> twice');
  assert.equal(hidden.text, tokenizer.decode([327, 327]));
  assert.ok(!hidden.text.includes('<s>'));
  const shown = generated([...args, '--keep-special-tokens'])[0];
  assert.equal(shown.text, tokenizer.decode([327, 1, 327, 1]));
  assert.ok(shown.text!.includes('<s>'));
  assert.deepEqual(Object.keys(hidden).sort(), ['finish_reason', 'log_probs', 'new_tokens', 'prompt_tokens', 'text', 'timings']);
  assert.deepEqual(Object.keys(hidden.timings).sort(), ['decode_ms', 'decode_tokens_per_second', 'prefill_ms']);

  const plain = run(args.filter((a) => a !== '--json'));
  assert.equal(plain.stdout, `${hidden.text}\n`, 'plain output prints the text too');
  const noTokenizer = generated(['--model', checkpointDir, '--ids', '25,10,79', '--max-new-tokens', '2', '--json'])[0];
  assert.equal(noTokenizer.text, null, 'null only when the model folder has no tokenizer.json');
});

test('streamed text hides special tokens as the final text does, and shows them with --keep-special-tokens', () => {
  // "6'l" encodes to 25,10,79, whose greedy continuation is im <s> im <s>.
  const args = ['--model', tinyDir, '--prompt', "6'l", '--max-new-tokens', '4', '--no-eos'];
  assert.equal(generated([...args, '--json'])[0].text, 'imim');
  assert.equal(run(args).stdout, "6'limim\n");
  assert.equal(run([...args, '--keep-special-tokens']).stdout, "6'lim<s>im<s>\n");
});

test('--help documents the new flags and the JSON fields', () => {
  const result = spawnSync(process.execPath, [cli, 'generate', '--help'], { encoding: 'utf8' });
  for (const word of ['--repetition-penalty', '--no-repeat-ngram-size', '--min-new-tokens', '--keep-special-tokens', 'new_tokens', 'log_probs', 'finish_reason', 'prompt_tokens', 'decode_tokens_per_second']) {
    assert.ok(result.stdout.includes(word), word);
  }
});

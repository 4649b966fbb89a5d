import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { makeDemoModel } from '../../src/models/demo-model.js';
import { repoRoot } from '../helpers/paths.js';

/**
 * `tuneloop --help` lists every command and every environment variable tuneloop reads, and its
 * examples run as written, in order, in a folder laid out as a fresh clone after `npm run demo`.
 */
const cli = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
let clone: string;

before(async () => {
  clone = mkdtempSync(join(tmpdir(), 'tuneloop-usage-'));
  cpSync(join(repoRoot, 'configs'), join(clone, 'configs'), { recursive: true });
  mkdirSync(join(clone, 'data'));
  for (const folder of ['tasks', 'metrics']) cpSync(join(repoRoot, 'data', folder), join(clone, 'data', folder), { recursive: true });
  await makeDemoModel(join(clone, 'models', 'demo'));
});
after(() => rmSync(clone, { recursive: true, force: true }));

function tuneloop(args: string[]) {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.TUNELOOP_DATA_DIR;
  const result = spawnSync(process.execPath, [cli, ...args], { cwd: clone, encoding: 'utf8', env });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const usage = () => {
  const { status, stdout } = tuneloop(['--help']);
  assert.equal(status, 0);
  return stdout;
};

test('--help lists every command', () => {
  const help = usage();
  const commands = readdirSync(join(repoRoot, 'src', 'cli', 'commands')).map((file) => file.replace(/\.ts$/, ''));
  assert.ok(commands.length >= 10);
  for (const command of commands) {
    assert.ok(new RegExp(`^  ${command} `, 'm').test(help) || help.includes(`${command} is an alias`), `tuneloop --help lists ${command}`);
  }
});

test('--help lists every TUNELOOP_ environment variable that src/ and the install script read', () => {
  const help = usage();
  const sources = [join(repoRoot, 'scripts', 'build-native.mjs')];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(dir, entry.name));
      else if (entry.name.endsWith('.ts')) sources.push(join(dir, entry.name));
    }
  };
  walk(join(repoRoot, 'src'));
  const names = new Set(sources.flatMap((file) => readFileSync(file, 'utf8').match(/\bTUNELOOP_[A-Z_]+\b/g) ?? []));
  for (const name of ['TUNELOOP_BACKEND', 'TUNELOOP_THREADS', 'TUNELOOP_DATA_DIR', 'TUNELOOP_REQUIRE_NATIVE']) assert.ok(names.has(name), `${name} is read somewhere`);
  for (const name of names) assert.match(help, new RegExp(`^  ${name}=`, 'm'), `tuneloop --help explains ${name}`);
});

test("--help's examples run as written, in order, on a fresh clone after npm run demo", () => {
  const help = usage();
  const section = help.slice(help.indexOf('\nExamples'), help.indexOf('\nEnvironment'));
  const examples = section.split('\n').filter((line) => line.startsWith('  tuneloop '));
  assert.ok(examples.length >= 10, 'an example per command');
  for (const line of examples) {
    const [command, comment = ''] = line.trim().split(/\s+#\s+/);
    const args = [...command.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]).slice(1);
    // An example whose comment names its exit status (the untrained demo failing its test suite) must exit with that.
    const expected = Number(/exit status (\d+)/.exec(comment)?.[1] ?? 0);
    const { status, stderr } = tuneloop(args);
    assert.equal(status, expected, `${command}: ${stderr}`);
  }
});

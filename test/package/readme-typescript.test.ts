import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot as projectDir } from '../helpers/paths.js';

test("README's 'From TypeScript' example type-checks in a strict project that depends on tuneloop", () => {
  const readme = readFileSync(join(projectDir, 'README.md'), 'utf8');
  const snippet = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(snippet, 'README.md has a ```ts block');
  const consumer = mkdtempSync(join(tmpdir(), 'tuneloop-consumer-'));
  try {
    // A user's project: tuneloop installed as a dependency (here a link to this folder), strict NodeNext.
    mkdirSync(join(consumer, 'node_modules'));
    symlinkSync(projectDir, join(consumer, 'node_modules', 'tuneloop'), 'dir');
    writeFileSync(join(consumer, 'package.json'), JSON.stringify({ type: 'module' }));
    writeFileSync(join(consumer, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true, types: [] },
      files: ['example.ts'],
    }));
    // `rows` is used so that an unused-binding check cannot hide a wrong type.
    writeFileSync(join(consumer, 'example.ts'), `${snippet}\nconsole.log(rows[0].newTokens.length);\n`);
    const tsc = join(projectDir, 'node_modules', 'typescript', 'bin', 'tsc');
    const run = spawnSync(process.execPath, [tsc, '-p', consumer], { encoding: 'utf8' });
    assert.equal(run.status, 0, `tsc on the README example failed:\n${run.stdout}${run.stderr}`);
  } finally {
    rmSync(consumer, { recursive: true, force: true });
  }
});

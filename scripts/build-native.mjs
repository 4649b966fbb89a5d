// Builds the native addon (binding.gyp -> build/Release/tuneloop_native.node); `npm ci` runs it as
// the package's install script. A failed build does not fail the install: tuneloop then runs on
// its TypeScript backend, and this script says so. Set TUNELOOP_SKIP_NATIVE=1 to skip the build,
// or TUNELOOP_REQUIRE_NATIVE=1 to make a failed build fail the install.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const addonPath = join(root, 'build', 'Release', 'tuneloop_native.node');
const log = (message) => process.stderr.write(`[tuneloop] ${message}\n`);

function giveUp(reason, output = '') {
  if (output) process.stderr.write(`${output.trimEnd().split('\n').slice(-25).join('\n')}\n`);
  log(`WARNING: the native backend was not built: ${reason}`);
  log('WARNING: the TypeScript backend will be used instead (same results, much slower).');
  log('         To build it: apt-get install libdnnl-dev g++ make python3, then `node scripts/build-native.mjs`.');
  process.exit(process.env.TUNELOOP_REQUIRE_NATIVE === '1' ? 1 : 0);
}

/** node-gyp as npm runs it for install scripts, else the copy bundled with npm, else a local one. */
function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  try {
    candidates.push(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not installed locally
  }
  return candidates.find((candidate) => candidate && existsSync(candidate));
}

if (process.env.TUNELOOP_SKIP_NATIVE === '1') {
  log('TUNELOOP_SKIP_NATIVE=1: not building the native backend; the TypeScript backend will be used.');
  process.exit(0);
}

const nodeGyp = findNodeGyp();
if (!nodeGyp) giveUp('node-gyp was not found (it ships with npm)');

const args = [nodeGyp, 'rebuild', '--jobs=max'];
// Node's own headers, when installed beside it (Debian and NodeSource packages), spare node-gyp a
// download of the headers tarball.
const prefix = join(dirname(process.execPath), '..');
if (existsSync(join(prefix, 'include', 'node', 'node_version.h'))) args.push(`--nodedir=${prefix}`);

log('building the native backend (oneDNN + OpenMP) ...');
const build = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
const output = `${build.stdout ?? ''}${build.stderr ?? ''}`;
if (build.error) giveUp(`node-gyp could not run: ${build.error.message}`);
if (build.status !== 0) {
  const hint = /dnnl\.hpp|-ldnnl/.test(output) ? ' (oneDNN not found: is libdnnl-dev installed?)' : '';
  giveUp(`node-gyp exited with status ${build.status}${hint}`, output);
}

try {
  createRequire(import.meta.url)(addonPath);
} catch (error) {
  giveUp(`the addon built but does not load: ${error.message}`);
}
log(`native backend built: ${addonPath}`);

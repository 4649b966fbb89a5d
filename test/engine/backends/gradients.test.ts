/** The TypeScript backend's backward ops against finite differences and the Hugging Face fixtures. */
import { test } from 'node:test';
import { TypeScriptBackend } from '../../../src/engine/backends/typescript.js';
import { gradientChecks } from '../../helpers/gradient-checks.js';

const backend = new TypeScriptBackend();

for (const { name, run } of gradientChecks) {
  test(name, () => run(backend));
}

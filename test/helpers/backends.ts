import type { Backend } from '../../src/engine/backend.js';
import { TypeScriptBackend } from '../../src/engine/backends/typescript.js';
import { selectBackend } from '../../src/engine/select-backend.js';

export interface BackendCase {
  readonly name: 'typescript' | 'native';
  /** Undefined when the addon did not build here; tests then skip with `skipReason`. */
  readonly backend: Backend | undefined;
  readonly skipReason: string | undefined;
}

/** The TypeScript backend always; the native one when its addon loads (CI requires it: see .ci/run). */
export async function backendCases(): Promise<BackendCase[]> {
  let native: Backend | undefined;
  let skipReason: string | undefined;
  try {
    native = await selectBackend('native');
  } catch (error) {
    if (process.env.TUNELOOP_REQUIRE_NATIVE === '1') throw error;
    skipReason = `native addon unavailable: ${(error as Error).message}`;
  }
  return [
    { name: 'typescript', backend: new TypeScriptBackend(), skipReason: undefined },
    { name: 'native', backend: native, skipReason },
  ];
}

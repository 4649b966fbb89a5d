import { test } from 'node:test';
import { loadNativeBackend, type NativeBackend } from '../../src/engine/backends/native.js';

let native: NativeBackend | undefined;
let skipReason: string | false = false;
try {
  native = loadNativeBackend();
} catch (error) {
  // CI sets TUNELOOP_REQUIRE_NATIVE=1 so that a missing addon fails instead of skipping.
  if (process.env.TUNELOOP_REQUIRE_NATIVE === '1') throw error;
  skipReason = `native addon unavailable: ${(error as Error).message}`;
}

/** A test that needs the addon; skipped with the load failure when it is not built. */
export function nativeTest(name: string, body: (backend: NativeBackend) => void): void {
  test(name, { skip: skipReason }, () => body(native!));
}

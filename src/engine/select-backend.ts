import type { Backend } from './backend.js';
import { TypeScriptBackend } from './backends/typescript.js';
import { BackendUnavailableError } from '../errors.js';

export type BackendChoice = 'auto' | 'native' | 'typescript';

let nativeLoadFailure: string | undefined;

/**
 * Picks the compute backend: `choice`, else the TUNELOOP_BACKEND environment variable, else 'auto'
 * (the native addon when it loads, the TypeScript backend otherwise). Asking for 'native' explicitly
 * fails loudly instead of falling back.
 */
export async function selectBackend(choice?: BackendChoice): Promise<Backend> {
  const wanted = choice ?? parseChoice(process.env.TUNELOOP_BACKEND);
  if (wanted === 'typescript') return new TypeScriptBackend();
  try {
    const { loadNativeBackend } = await import('./backends/native.js');
    return loadNativeBackend();
  } catch (cause) {
    nativeLoadFailure = (cause as Error).message;
    if (wanted === 'native') throw new BackendUnavailableError(`the native backend was asked for but cannot load: ${nativeLoadFailure}`, { cause });
    return new TypeScriptBackend();
  }
}

/** Why the native addon did not load, if it was tried and failed. */
export function nativeBackendFailure(): string | undefined {
  return nativeLoadFailure;
}

function parseChoice(value: string | undefined): BackendChoice {
  if (value === undefined || value === '') return 'auto';
  if (value === 'auto' || value === 'native' || value === 'typescript') return value;
  throw new BackendUnavailableError(`TUNELOOP_BACKEND must be auto, native or typescript, got "${value}"`);
}

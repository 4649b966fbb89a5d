import type { Backend } from './backend.js';
import type { NativeBackend } from './backends/native.js';
import { TypeScriptBackend } from './backends/typescript.js';
import { BackendUnavailableError, InvalidInputError } from '../errors.js';

export type BackendChoice = 'auto' | 'native' | 'typescript';

export interface SelectBackendOptions {
  /**
   * Threads for the native backend's kernels (OpenMP, oneDNN included); else the TUNELOOP_THREADS
   * environment variable, else OMP_NUM_THREADS, else one per core. The TypeScript backend runs on
   * the calling thread whatever this says.
   */
  readonly threads?: number;
}

/** The most threads accepted: a bound on typos, not on machines (the addon enforces the same). */
export const MAX_THREADS = 1024;

let nativeLoadFailure: string | undefined;

/**
 * Picks the compute backend: `choice`, else the TUNELOOP_BACKEND environment variable, else 'auto'
 * (the native addon when it loads, the TypeScript backend otherwise). Asking for 'native' explicitly
 * fails loudly instead of falling back. The thread count is checked before the addon loads.
 */
export async function selectBackend(choice?: BackendChoice, options: SelectBackendOptions = {}): Promise<Backend> {
  const wanted = choice ?? parseChoice(process.env.TUNELOOP_BACKEND);
  // An empty TUNELOOP_THREADS (`TUNELOOP_THREADS= cmd`) counts as unset, as for TUNELOOP_BACKEND.
  const threads = options.threads === undefined ? parseThreadCount(process.env.TUNELOOP_THREADS || undefined, 'TUNELOOP_THREADS') : checkThreadCount(options.threads, 'threads');
  if (wanted === 'typescript') return new TypeScriptBackend();
  let native: NativeBackend;
  try {
    const { loadNativeBackend } = await import('./backends/native.js');
    native = loadNativeBackend();
  } catch (cause) {
    nativeLoadFailure = (cause as Error).message;
    if (wanted === 'native') throw new BackendUnavailableError(`the native backend was asked for but cannot load: ${nativeLoadFailure}`, { cause });
    return new TypeScriptBackend();
  }
  // The addon is shared by every caller: a call without a count gets the default back rather than
  // whatever an earlier call set.
  native.setThreads(threads ?? native.defaultThreads);
  return native;
}

/** Why the native addon did not load, if it was tried and failed. */
export function nativeBackendFailure(): string | undefined {
  return nativeLoadFailure;
}

/** A thread count written by the user (a flag or an environment variable, named by `field`), or undefined when absent. */
export function parseThreadCount(value: string | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  const threads = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !isThreadCount(threads)) throw new InvalidInputError(field, `must be a whole number of threads from 1 to ${MAX_THREADS}, got "${value}"`);
  return threads;
}

function checkThreadCount(threads: number, field: string): number {
  if (!isThreadCount(threads)) throw new InvalidInputError(field, `must be a whole number of threads from 1 to ${MAX_THREADS}, got ${threads}`);
  return threads;
}

function isThreadCount(threads: number): boolean {
  return Number.isInteger(threads) && threads >= 1 && threads <= MAX_THREADS;
}

function parseChoice(value: string | undefined): BackendChoice {
  if (value === undefined || value === '') return 'auto';
  if (value === 'auto' || value === 'native' || value === 'typescript') return value;
  throw new BackendUnavailableError(`TUNELOOP_BACKEND must be auto, native or typescript, got "${value}"`);
}

import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type BackendChoice, parseThreadCount } from '../engine/select-backend.js';
import { InvalidInputError } from '../errors.js';
import { ADAPTER_CONFIG_FILE } from '../peft/adapter-files.js';
import { SELECTIVE_CONFIG_FILE } from '../peft/selective/model.js';
import { parseDType, requireModelDir } from './model-options.js';

const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'native', 'typescript'];

/** The compute backend named by `field`, checked. */
export function parseBackendChoice(value: string, field = '--backend'): BackendChoice {
  if (!(BACKEND_CHOICES as readonly string[]).includes(value)) throw new InvalidInputError(field, `must be ${BACKEND_CHOICES.slice(0, -1).join(', ')} or ${BACKEND_CHOICES.at(-1)}, got "${value}"`);
  return value as BackendChoice;
}

/**
 * An adapter directory named by `field`, checked to hold an adapter (peft's adapter_config.json, or
 * tuneloop's selective_tuning.json) before any model is loaded; its contents are read when it is applied.
 */
export function requireAdapterDir(dir: string, field = '--adapter'): string {
  if (!existsSync(dir)) throw new InvalidInputError(field, `${dir} does not exist`);
  if (!statSync(dir).isDirectory()) throw new InvalidInputError(field, `${dir} is a file; give the adapter's directory`);
  if (existsSync(join(dir, ADAPTER_CONFIG_FILE)) || existsSync(join(dir, SELECTIVE_CONFIG_FILE))) return dir;
  const hint = existsSync(join(dir, 'config.json')) ? '; it looks like a full model directory: pass it as --model' : '';
  throw new InvalidInputError(field, `${dir} is not an adapter directory: it has neither ${ADAPTER_CONFIG_FILE} (a PEFT adapter) nor ${SELECTIVE_CONFIG_FILE} (tuneloop's bias or selective tuning)${hint}`);
}

/**
 * The options every model-running command shares, checked before any work: --dtype, --backend and
 * --threads first (they are the user's typing), then the --model and --adapter directories. Returns the model
 * directory.
 */
export function checkModelOptions(values: { model?: string; adapter?: string | readonly string[]; dtype: string; backend: string; threads?: string }): string {
  parseDType(values.dtype);
  parseBackendChoice(values.backend);
  parseThreadCount(values.threads, '--threads');
  const dir = requireModelDir(values.model);
  const adapters = typeof values.adapter === 'string' ? [values.adapter] : (values.adapter ?? []);
  for (const adapter of adapters) requireAdapterDir(adapter);
  return dir;
}

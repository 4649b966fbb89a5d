import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Tensor } from '../engine/tensor.js';
import { AdapterError } from '../errors.js';
import { SafetensorsFile, writeSafetensors } from '../formats/safetensors.js';

export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';

/** An adapter directory as Hugging Face peft's save_pretrained writes it. */
export interface AdapterFiles {
  readonly dir: string;
  /** adapter_config.json as written, every field kept so a round trip loses nothing. */
  readonly config: Record<string, unknown>;
  readonly tensors: Map<string, Tensor>;
}

export function readAdapterFiles(dir: string): AdapterFiles {
  const configPath = join(dir, ADAPTER_CONFIG_FILE);
  if (!existsSync(configPath)) {
    const hint = existsSync(join(dir, 'config.json')) ? ' (this looks like a full model directory: pass it as --model)' : '';
    throw new AdapterError(configPath, `missing: not a PEFT adapter directory${hint}`);
  }
  let config: unknown;
  try {
    config = JSON.parse(readFileSync(configPath, 'utf8'));
  } catch (cause) {
    throw new AdapterError(configPath, `not valid JSON (${(cause as Error).message})`, {}, { cause });
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new AdapterError(configPath, 'must be a JSON object');
  const weightsPath = join(dir, ADAPTER_WEIGHTS_FILE);
  if (!existsSync(weightsPath)) {
    const hint = existsSync(join(dir, 'adapter_model.bin')) ? ' (found adapter_model.bin: save with safe_serialization=True; pickle files are not loaded)' : '';
    throw new AdapterError(weightsPath, `missing${hint}`);
  }
  const file = SafetensorsFile.open(weightsPath);
  try {
    const tensors = new Map([...file.entries.keys()].map((name) => [name, file.read(name, 'f32')] as const));
    return { dir, config: config as Record<string, unknown>, tensors };
  } finally {
    file.close();
  }
}

/**
 * Writes adapter_config.json and adapter_model.safetensors (and `extraFiles`, name → contents) into
 * `dir` all at once (see writeDirectoryAtomically), so an interrupted save never leaves a half-written
 * adapter.
 */
export function writeAdapterFiles(dir: string, config: Record<string, unknown>, tensors: Map<string, Tensor>, extraFiles: ReadonlyMap<string, string> = new Map()): void {
  writeDirectoryAtomically(dir, (staging) => {
    writeFileSync(join(staging, ADAPTER_CONFIG_FILE), `${JSON.stringify(config, null, 2)}\n`);
    writeSafetensors(join(staging, ADAPTER_WEIGHTS_FILE), tensors, { format: 'pt' });
    for (const [name, contents] of extraFiles) writeFileSync(join(staging, name), contents);
  });
}

/**
 * Fills a sibling temporary directory with `write`, then puts it in place of `dir` only when complete:
 * readers see the old directory or the new one, never a mix.
 */
export function writeDirectoryAtomically(dir: string, write: (staging: string) => void): void {
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  const staging = join(parent, `.${basename(dir)}.tmp-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging);
  write(staging);
  if (existsSync(dir)) {
    const previous = join(parent, `.${basename(dir)}.old-${process.pid}`);
    renameSync(dir, previous);
    renameSync(staging, dir);
    rmSync(previous, { recursive: true, force: true });
  } else {
    renameSync(staging, dir);
  }
}

/** Reads a field of adapter_config.json, failing with the file and field named. */
export function configField<T>(files: Pick<AdapterFiles, 'dir' | 'config'>, field: string, check: (value: unknown) => value is T, expected: string, fallback?: T): T {
  const value = files.config[field];
  if ((value === undefined || value === null) && fallback !== undefined) return fallback;
  if (!check(value)) throw new AdapterError(join(files.dir, ADAPTER_CONFIG_FILE), `must be ${expected}, got ${JSON.stringify(value)}`, { field });
  return value;
}

export const isPositiveInteger = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;
export const isNonNegativeNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
export const isBoolean = (v: unknown): v is boolean => typeof v === 'boolean';
export const isString = (v: unknown): v is string => typeof v === 'string';

/**
 * How tuneloop treats one field of adapter_config.json:
 * - `accepted`: read by tuneloop's parser, or metadata that does not change what the adapter computes
 *   (names, training-only settings, initialisation settings whose result the saved tensors already hold).
 * - `refused`: changes the math and is not implemented; allowed only at its inert value (`inert`), so an
 *   adapter that uses it fails with the field named instead of loading with the field ignored.
 */
export type ConfigFieldRule =
  | { readonly kind: 'accepted' }
  | { readonly kind: 'refused'; readonly since: string; readonly what: string; readonly inert: (value: unknown) => boolean };

export const ACCEPTED: ConfigFieldRule = { kind: 'accepted' };

/** Null, false, and empty lists and objects: what peft writes for a feature that is off. */
export function isInertValue(value: unknown): boolean {
  if (value === undefined || value === null || value === false) return true;
  if (Array.isArray(value)) return value.length === 0;
  return typeof value === 'object' && Object.keys(value).length === 0;
}

/** The fields every peft config has (PeftConfigMixin, PeftConfig), all metadata. */
export const PEFT_CONFIG_FIELDS: Readonly<Record<string, ConfigFieldRule>> = {
  peft_type: ACCEPTED,
  task_type: ACCEPTED,
  base_model_name_or_path: ACCEPTED,
  revision: ACCEPTED,
  inference_mode: ACCEPTED,
  auto_mapping: ACCEPTED,
};

/**
 * Checks every field of adapter_config.json against `rules`: a refused field away from its inert value
 * fails with the field and the peft release that added it named; a field no rule knows (from a peft
 * newer than 0.17) is accepted only at an inert value, since nothing says what it would change.
 */
export function checkConfigFields(files: Pick<AdapterFiles, 'dir' | 'config'>, method: string, rules: Readonly<Record<string, ConfigFieldRule>>): void {
  const file = join(files.dir, ADAPTER_CONFIG_FILE);
  for (const [field, value] of Object.entries(files.config)) {
    const rule = rules[field];
    if (!rule) {
      if (isInertValue(value)) continue;
      throw new AdapterError(
        file,
        `is not a ${method} field of peft 0.7 to 0.17, which tuneloop knows; its value ${JSON.stringify(value)} may change what the adapter computes, so it is refused rather than ignored (written by a newer peft?)`,
        { field },
      );
    }
    if (rule.kind === 'refused' && !rule.inert(value)) {
      throw new AdapterError(file, `${rule.what} (added in peft ${rule.since}) is not supported by tuneloop, got ${JSON.stringify(value)}; loading without it would compute something else`, { field });
    }
  }
}

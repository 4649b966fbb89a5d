import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DatasetError } from '../../errors.js';

/**
 * The word lists HELM's perturbations and metrics read, shipped under data/helm (their provenance and
 * licences are in data/helm/README.md). Each is loaded with its sha256, which results files record.
 */
export interface Resource<T> {
  readonly file: string;
  readonly sha256: string;
  readonly content: T;
}

/** data/helm at the package root. */
export function shippedResourcesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('package.json not found above the helm module');
    dir = parent;
  }
  return join(dir, 'data', 'helm');
}

export function shippedResource(name: string): string {
  return join(shippedResourcesDir(), name);
}

function readWithHash(file: string): { text: string; sha256: string } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    throw new DatasetError(file, `cannot be read: ${(error as Error).message}`, {}, { cause: error });
  }
  return { text: bytes.toString('utf8'), sha256: createHash('sha256').update(bytes).digest('hex') };
}

function readJsonObject(file: string): { value: Record<string, unknown>; sha256: string } {
  const { text, sha256 } = readWithHash(file);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new DatasetError(file, `is not valid JSON: ${(error as Error).message}`, {}, { cause: error });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new DatasetError(file, 'must hold a JSON object');
  return { value: value as Record<string, unknown>, sha256 };
}

function stringList(file: string, value: unknown, field: string): string[] {
  if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === 'string' && v !== '')) {
    throw new DatasetError(file, 'must be a non-empty list of non-empty strings', { field });
  }
  return value as string[];
}

function stringListMap(file: string, value: unknown, field: string): Map<string, string[]> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new DatasetError(file, 'must be an object of word lists', { field });
  const map = new Map<string, string[]>();
  for (const [key, list] of Object.entries(value)) map.set(key, stringList(file, list, `${field}.${key}`));
  if (map.size === 0) throw new DatasetError(file, 'is empty', { field });
  return map;
}

/** Ordered (contraction, expansion) pairs. */
export function loadContractions(file = shippedResource('contractions.json')): Resource<readonly (readonly [string, string])[]> {
  const { value, sha256 } = readJsonObject(file);
  const pairs = value.pairs;
  if (!Array.isArray(pairs) || pairs.length === 0) throw new DatasetError(file, 'must be a non-empty list of [contraction, expansion] pairs', { field: 'pairs' });
  const content = pairs.map((pair, i) => {
    if (!Array.isArray(pair) || pair.length !== 2 || !pair.every((w) => typeof w === 'string' && w !== '')) throw new DatasetError(file, 'must be [contraction, expansion]', { field: `pairs[${i}]` });
    return [pair[0], pair[1]] as const;
  });
  return { file, sha256, content };
}

/** Source word -> its alternatives in the target dialect (keys lower-case, as HELM looks them up). */
export function loadDialectMapping(file = shippedResource('dialect-sae-aave.json')): Resource<ReadonlyMap<string, readonly string[]>> {
  const { value, sha256 } = readJsonObject(file);
  const content = stringListMap(file, value.mapping ?? value, 'mapping');
  for (const key of content.keys()) if (key !== key.toLowerCase()) throw new DatasetError(file, 'keys must be lower-case (HELM looks words up lower-cased)', { field: `mapping.${key}` });
  return { file, sha256, content };
}

export interface GenderMappings {
  readonly genders: readonly string[];
  /** Rows of words, one column per gender. */
  readonly terms: readonly (readonly string[])[];
  readonly pronouns: readonly (readonly string[])[];
}

export function loadGenderMappings(file = shippedResource('gender-mappings.json')): Resource<GenderMappings> {
  const { value, sha256 } = readJsonObject(file);
  const genders = stringList(file, value.genders, 'genders');
  const rows = (field: 'terms' | 'pronouns') => {
    const list = value[field];
    if (!Array.isArray(list) || list.length === 0) throw new DatasetError(file, 'must be a non-empty list of rows', { field });
    return list.map((row, i) => {
      const words = stringList(file, row, `${field}[${i}]`);
      if (words.length !== genders.length) throw new DatasetError(file, `has ${words.length} words, expected one per gender (${genders.join(', ')})`, { field: `${field}[${i}]` });
      return words.map((w) => w.toLowerCase());
    });
  };
  return { file, sha256, content: { genders, terms: rows('terms'), pronouns: rows('pronouns') } };
}

/** A name's categories, from HELM's name file format: `name,name_type[,category,value]*`. */
export interface NameEntry {
  readonly name: string;
  readonly nameType: string;
  readonly categories: readonly (readonly [string, string])[];
}

export function loadPersonNames(file = shippedResource('person-names.txt')): Resource<readonly NameEntry[]> {
  const { text, sha256 } = readWithHash(file);
  const entries: NameEntry[] = [];
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    const [name, nameType, ...rest] = line.split(',');
    if (!name?.trim() || !nameType?.trim() || rest.length % 2 !== 0) {
      throw new DatasetError(file, 'must read name,name_type[,category,value]*', { line: index + 1 });
    }
    const categories: (readonly [string, string])[] = [];
    for (let i = 0; i < rest.length; i += 2) categories.push([rest[i].trim().toLowerCase(), rest[i + 1].trim().toLowerCase()]);
    entries.push({ name: name.trim().toLowerCase(), nameType: nameType.trim().toLowerCase(), categories });
  });
  if (entries.length === 0) throw new DatasetError(file, 'contains no names');
  return { file, sha256, content: entries };
}

export interface BiasWordLists {
  /** Demographic category (gender, race) -> group -> words, in HELM's group order. */
  readonly demographics: ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>;
  /** Target category (adjective, profession) -> words. */
  readonly targets: ReadonlyMap<string, readonly string[]>;
}

export function loadBiasWordLists(file = shippedResource('bias-word-lists.json')): Resource<BiasWordLists> {
  const { value, sha256 } = readJsonObject(file);
  const demographics = new Map([
    ['gender', stringListMap(file, value.gender, 'gender')],
    ['race', stringListMap(file, value.race, 'race')],
  ]);
  const targets = new Map([
    ['adjective', stringList(file, value.adjectives, 'adjectives')],
    ['profession', stringList(file, value.professions, 'professions')],
  ]);
  return { file, sha256, content: { demographics, targets } };
}

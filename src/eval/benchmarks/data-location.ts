import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DatasetError } from '../../errors.js';

/**
 * Where a benchmark's data files are looked for. A suite names its data in one of two ways:
 *
 * - `data_dir` (user suites): a folder relative to the definition file, used as given.
 * - `data_source.folder` (the shipped suites): a folder name looked for under the data roots, in order:
 *   1. `--data-dir DIR` (or an eval file's `data_dir`): the suite's data folder itself; nothing else is tried.
 *   2. `TUNELOOP_DATA_DIR=ROOT`: ROOT/<folder> (a root holding mmlu/, superglue/, ...); nothing else is tried.
 *   3. data/benchmarks/<folder> in the project (the small sample shipped with it), if it holds every file
 *      the run needs;
 *   4. ../shared/data/<folder> beside the project (the development workspace's full data).
 *
 * An explicit choice (1, 2) is never silently replaced by another folder: its missing files are an error.
 */
export interface DataLocation {
  readonly dir: string;
  /** Where this candidate came from, in the user's terms (`--data-dir`, `TUNELOOP_DATA_DIR`, ...). */
  readonly origin: string;
  /** The sample shipped in data/benchmarks, which holds only part of a dataset. */
  readonly shipped?: boolean;
}

/** What a suite says about its official data, shown when files are missing. */
export interface DataSource {
  /** The folder under a data root (TUNELOOP_DATA_DIR, data/benchmarks, ../shared/data); null when the suite uses data_dir. */
  readonly folder: string | null;
  /** The official files' format, in words. */
  readonly format: string;
  /** Where the official dataset is published (a URL; nothing is downloaded). */
  readonly published: string;
}

/** The environment variable naming a root folder that holds each shipped benchmark's data folder. */
export const DATA_DIR_ENV = 'TUNELOOP_DATA_DIR';

/** The package root: the folder holding package.json above this module (works from src/ and dist/src/). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('package.json not found above the benchmark module');
    dir = parent;
  }
  return dir;
}

/** The folder of data shipped with the project, one subfolder per benchmark (data/benchmarks). */
export function shippedDataRoot(): string {
  return join(packageRoot(), 'data', 'benchmarks');
}

/**
 * The candidate data folders of a suite, in the order they are tried. `dataDir` is an explicit folder
 * (--data-dir, or where `dataDirOrigin` says, such as an eval file's field); `fileDataDir` the
 * definition's own data_dir, already resolved against the file. A suite with neither data_dir nor a
 * data_source folder reads from its file's folder.
 */
export function dataLocations(options: { dataDir?: string; dataDirOrigin?: string; fileDataDir: string | null; source: DataSource | null; environment: NodeJS.ProcessEnv; definitionFile: string }): DataLocation[] {
  if (options.dataDir !== undefined) return [{ dir: resolve(options.dataDir), origin: options.dataDirOrigin ?? '--data-dir' }];
  if (options.fileDataDir !== null) return [{ dir: options.fileDataDir, origin: `data_dir in ${options.definitionFile}` }];
  const folder = options.source?.folder;
  if (!folder) return [{ dir: dirname(resolve(options.definitionFile)), origin: `the folder of ${options.definitionFile}` }];
  const root = options.environment[DATA_DIR_ENV];
  if (root !== undefined && root !== '') return [{ dir: resolve(root, folder), origin: `${DATA_DIR_ENV}=${root}` }];
  return [
    { dir: join(shippedDataRoot(), folder), origin: 'shipped with tuneloop', shipped: true },
    { dir: resolve(packageRoot(), '..', 'shared', 'data', folder), origin: '../shared/data beside the project' },
  ];
}

/** A file a run reads, relative to the data folder, and the pattern it comes from (`test/<subset>_test.csv`). */
export interface NeededFile {
  readonly path: string;
  readonly pattern: string;
}

/**
 * The first candidate folder holding every needed file. When none does, a DatasetError names the first
 * missing file and says, for each folder tried, what it lacks; which files are expected; their official
 * format; where the official dataset is published; and how to point tuneloop at a copy.
 */
export function chooseDataDir(suiteName: string, locations: readonly DataLocation[], needed: readonly NeededFile[], source: DataSource | null): string {
  const missingBy = locations.map((location) => needed.filter((file) => !existsSync(resolve(location.dir, file.path))));
  const found = missingBy.findIndex((missing) => missing.length === 0);
  if (found >= 0) return locations[found].dir;
  const shown = (dir: string) => {
    const fromHere = relative(process.cwd(), dir);
    return fromHere !== '' && !fromHere.startsWith('..') ? fromHere : dir;
  };
  const lines = [`the ${suiteName} benchmark's data files are missing. Looked in:`];
  locations.forEach((location, i) => {
    const missing = missingBy[i];
    const what = !existsSync(location.dir)
      ? 'no such folder'
      : `missing ${missing
          .slice(0, 4)
          .map((file) => file.path)
          .join(', ')}${missing.length > 4 ? ` and ${missing.length - 4} more` : ''}`;
    lines.push(`  ${shown(location.dir)} (${location.origin}): ${what}`);
  });
  if (locations.some((location) => location.shipped && existsSync(location.dir))) {
    lines.push(`The shipped data is a sample (what it holds: ${shown(join(shippedDataRoot(), 'README.md'))}).`);
  }
  lines.push(`Expected files, relative to the data folder: ${[...new Set(needed.map((file) => file.pattern))].join(', ')}`);
  if (source) {
    lines.push(`Format: ${source.format}`);
    lines.push(`Official dataset: ${source.published}`);
  }
  const rootHint = source?.folder ? `, or set ${DATA_DIR_ENV} to a folder holding ${source.folder}/` : '';
  lines.push(`Give --data-dir DIR with these files${rootHint}. See "Where the data comes from" in README.md.`);
  const firstMissing = resolve(locations[0].dir, missingBy[0][0].path);
  throw new DatasetError(firstMissing, `not found: ${lines.join('\n')}`);
}

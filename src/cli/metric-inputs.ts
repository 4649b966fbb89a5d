import { DatasetError, InvalidInputError } from '../errors.js';
import { stripEnd } from '../eval/metrics/whitespace.js';
import { readDataFile } from '../train/data/data-file.js';
import { readJsonlRows } from '../train/data/jsonl-reader.js';

/** Hypotheses and, per hypothesis, its references, read from line-aligned files or a JSONL file of pairs. */
export interface MetricInputs {
  hypotheses: string[];
  references: string[][];
}

/**
 * The lines of a text file as sacreBLEU's command line reads them: split at `\n`, each line stripped of
 * trailing whitespace (a `\r` included); a final newline does not start another line. A byte-order mark
 * is kept as text, as sacreBLEU keeps it (WMT17's online-A output starts with one, and its scores count it).
 */
async function readLines(file: string): Promise<string[]> {
  const text = (await readDataFile(file)).toString('utf8');
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map(stripEnd);
}

/** A hypothesis file and one or more reference files, line i of each belonging together. */
export async function readAlignedFiles(hypFile: string, refFiles: readonly string[]): Promise<MetricInputs> {
  if (refFiles.length === 0) throw new InvalidInputError('--ref', 'give at least one reference file with --hyp');
  const hypotheses = await readLines(hypFile);
  const refStreams: string[][] = [];
  for (const refFile of refFiles) {
    const lines = await readLines(refFile);
    if (lines.length !== hypotheses.length) {
      throw new DatasetError(refFile, `has ${lines.length} lines but the hypothesis file ${hypFile} has ${hypotheses.length} lines; they must be line-aligned`);
    }
    refStreams.push(lines);
  }
  if (hypotheses.length === 0) throw new DatasetError(hypFile, 'has no lines to score');
  return { hypotheses, references: hypotheses.map((_, i) => refStreams.map((stream) => stream[i])) };
}

/** JSON Lines of `{"hypothesis": "...", "references": ["...", ...]}`; blank lines are skipped. */
export async function readPairsFile(file: string): Promise<MetricInputs> {
  const hypotheses: string[] = [];
  const references: string[][] = [];
  for (const { value, line } of await readJsonlRows(file)) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new DatasetError(file, 'must be a JSON object with "hypothesis" and "references"', { line });
    const row = value as Record<string, unknown>;
    if (typeof row.hypothesis !== 'string') throw new DatasetError(file, row.hypothesis === undefined ? 'is missing' : 'must be a string', { line, field: 'hypothesis' });
    const refs = row.references;
    if (!Array.isArray(refs)) throw new DatasetError(file, refs === undefined ? 'is missing' : 'must be an array of strings', { line, field: 'references' });
    if (refs.length === 0) throw new DatasetError(file, 'is empty; give at least one reference', { line, field: 'references' });
    refs.forEach((ref, k) => {
      if (typeof ref !== 'string') throw new DatasetError(file, 'must be a string', { line, field: `references[${k}]` });
    });
    hypotheses.push(row.hypothesis);
    references.push(refs as string[]);
  }
  if (hypotheses.length === 0) throw new DatasetError(file, 'has no rows to score');
  return { hypotheses, references };
}

import { CsvError, parse } from 'csv-parse/sync';
import { DatasetError } from '../../errors.js';
import { readDataText } from './data-file.js';
import type { SourceRow } from './records.js';

/**
 * Rows of a CSV file with a header row naming the columns; each row becomes an object keyed by column.
 * A row is located by the line on which it ends, as csv-parse counts lines: for the usual one-line rows
 * that is the row's own line in an editor.
 */
export async function readCsvRows(file: string): Promise<SourceRow[]> {
  const text = await readDataText(file);
  let parsed: { record: Record<string, string>; info: { lines: number } }[];
  try {
    parsed = parse(text, { columns: true, info: true, skip_empty_lines: true });
  } catch (error) {
    if (error instanceof CsvError) {
      const line = typeof error.lines === 'number' ? error.lines : undefined;
      throw new DatasetError(file, `is not valid CSV: ${error.message}`, { line }, { cause: error });
    }
    throw error;
  }
  return parsed.map(({ record, info }) => ({ value: record, line: info.lines }));
}

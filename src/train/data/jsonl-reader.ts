import { DatasetError } from '../../errors.js';
import { readDataText } from './data-file.js';
import type { SourceRow } from './records.js';

/** One JSON value per line; blank lines are skipped but still counted, so line numbers match an editor's. */
export async function readJsonlRows(file: string): Promise<SourceRow[]> {
  const lines = (await readDataText(file)).split(/\r?\n/);
  const rows: SourceRow[] = [];
  lines.forEach((text, index) => {
    if (text.trim() === '') return;
    const line = index + 1;
    try {
      rows.push({ value: JSON.parse(text), line });
    } catch (error) {
      throw new DatasetError(file, `is not valid JSON: ${(error as Error).message}`, { line }, { cause: error });
    }
  });
  return rows;
}

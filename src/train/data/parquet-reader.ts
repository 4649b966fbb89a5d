import { parquetReadObjects } from 'hyparquet';
import { DatasetError } from '../../errors.js';
import { readDataFile } from './data-file.js';
import type { SourceRow } from './records.js';

/**
 * Rows of a Parquet file, located by 1-based row number so that errors read like `file:line`.
 * hyparquet decodes uncompressed and Snappy-compressed columns (the default of pyarrow and of Hugging Face
 * datasets); a list-of-struct column such as `messages` comes back as an array of objects.
 */
export async function readParquetRows(file: string): Promise<SourceRow[]> {
  const bytes = await readDataFile(file);
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let objects: Record<string, unknown>[];
  try {
    objects = await parquetReadObjects({ file: buffer });
  } catch (error) {
    throw new DatasetError(file, `is not a readable Parquet file: ${(error as Error).message}`, {}, { cause: error });
  }
  return objects.map((value, index) => ({ value, line: index + 1 }));
}

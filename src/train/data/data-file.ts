import { readFile } from 'node:fs/promises';
import { DatasetError } from '../../errors.js';

/** The bytes of a training data file; a missing or unreadable file is a DatasetError naming it. */
export async function readDataFile(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const problem = code === 'ENOENT' ? 'not found' : `cannot be read (${code ?? String(error)})`;
    throw new DatasetError(file, problem, {}, { cause: error });
  }
}

/** The file as UTF-8 text, without the byte-order mark some editors put first. */
export async function readDataText(file: string): Promise<string> {
  const text = (await readDataFile(file)).toString('utf8');
  return text.startsWith('\uFEFF') ? text.slice(1) : text;
}

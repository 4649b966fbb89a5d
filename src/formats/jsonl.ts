import { DatasetError } from '../errors.js';

/** One JSON object of a JSONL text, with its 1-based line number. */
export interface JsonlObject {
  readonly fields: Record<string, unknown>;
  readonly line: number;
}

/**
 * The JSON objects of a JSONL text, one per line. Blank lines are skipped but counted, so line numbers
 * match an editor's; a line that is not JSON, or JSON that is not an object, is an error naming `file`
 * and the line.
 */
export function parseJsonlObjects(text: string, file: string): JsonlObject[] {
  const objects: JsonlObject[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (cause) {
      throw new DatasetError(file, 'is not valid JSON', { line }, { cause });
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new DatasetError(file, 'must be a JSON object', { line });
    objects.push({ fields: value as Record<string, unknown>, line });
  });
  return objects;
}

import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { CsvError, parse } from 'csv-parse/sync';
import { DatasetError } from '../../errors.js';
import { readDataFile } from '../../train/data/data-file.js';
import { stripEnd } from '../metrics/whitespace.js';
import type { NeededFile } from './data-location.js';
import type { TaskDefinition } from './definition.js';
import { PromptTemplate, TemplateError, type TemplateValue } from './template.js';
import { RECORD_TRANSFORMS, RowProblem, type Row } from './transforms.js';

/** One benchmark item: its fields as the templates see them, and where it came from. */
export interface BenchmarkItem {
  readonly fields: Row;
  readonly file: string;
  /** The line the record starts on (a CSV record may span lines; JSONL: its line). */
  readonly line: number;
  /** Position in the split, from 0. */
  readonly index: number;
}

export interface LoadedSplit {
  /** The files read (one, or for line-aligned data one per field), with their sha256. */
  readonly files: readonly { readonly path: string; readonly sha256: string }[];
  readonly items: readonly BenchmarkItem[];
}

/** The file one split of a task (and subset) reads; for line-aligned data, the file of each field. */
export function splitFiles(task: TaskDefinition, subset: string | null, split: string, dataDir: string): { field: string | null; path: string }[] {
  const source = task.data.splits[split];
  const render = (template: PromptTemplate) => resolve(dataDir, template.render(subset === null ? {} : { subset }));
  if (source instanceof PromptTemplate) return [{ field: null, path: render(source) }];
  return Object.entries(source).map(([field, template]) => ({ field, path: render(template) }));
}

/**
 * The files one split of a task (and subset) reads, relative to the data folder, each with the pattern
 * it comes from (`{{subset}}` shown as `<subset>`), for choosing the data folder and explaining a miss.
 */
export function neededFiles(task: TaskDefinition, subset: string | null, split: string): NeededFile[] {
  const source = task.data.splits[split];
  const templates = source instanceof PromptTemplate ? [source] : Object.values(source);
  return templates.map((template) => ({
    path: template.render(subset === null ? {} : { subset }),
    pattern: template.render(subset === null ? {} : { subset: '<subset>' }),
  }));
}

/** The fields the task's templates read from an item; each item is checked for them when loaded. */
export function requiredFields(task: TaskDefinition): string[] {
  const templates = [
    task.docToText,
    task.docToTarget,
    ...(task.docToChoice ?? []),
    ...(task.description ? [task.description] : []),
    ...(task.groupKey ? [task.groupKey] : []),
    ...(task.scoring.type === 'outputs' ? [task.scoring.docToOutput] : []),
  ];
  return [...new Set(templates.flatMap((t) => t.fields()))].filter((f) => f !== 'subset');
}

/**
 * Reads one split: parses the CSV or JSONL file, applies the task's transform, list fields and label
 * names, and checks each item has every field the templates read. A problem is a DatasetError naming
 * the file, the line and the field.
 */
export async function loadSplit(task: TaskDefinition, subset: string | null, split: string, dataDir: string): Promise<LoadedSplit> {
  const sources = splitFiles(task, subset, split, dataDir);
  const texts = await Promise.all(sources.map((source) => readDataFile(source.path)));
  const files = sources.map((source, i) => ({ path: source.path, sha256: createHash('sha256').update(texts[i]).digest('hex') }));
  const file = sources[0].path;
  let rows: { row: Row; line: number }[];
  if (task.data.format === 'lines') {
    rows = parseAlignedLines(sources.map((source, i) => ({ field: source.field!, path: source.path, text: texts[i].toString('utf8') })));
  } else {
    let text = texts[0].toString('utf8');
    if (text.startsWith('\uFEFF')) text = text.slice(1);
    rows = task.data.format === 'csv' ? parseCsv(file, text, task.data.columns!) : parseJsonl(file, text);
  }
  const transform = task.data.transform ? RECORD_TRANSFORMS[task.data.transform] : undefined;
  const required = requiredFields(task);
  const items: BenchmarkItem[] = [];
  for (const { row, line } of rows) {
    // A line-aligned field's problem is in that field's own file.
    const fileOf = (field: string | undefined) => sources.find((source) => source.field !== null && source.field === field)?.path ?? file;
    const fail = (field: string | undefined, detail: string): never => {
      throw new DatasetError(fileOf(field), detail, { line, field });
    };
    let expanded: Row[];
    try {
      expanded = transform ? transform.apply(row) : [row];
    } catch (error) {
      if (error instanceof RowProblem) return fail(error.field, error.message);
      throw error;
    }
    for (const fields of expanded) {
      for (const [name, sources] of Object.entries(task.data.lists)) {
        fields[name] = sources.map((source) => {
          if (!Object.hasOwn(fields, source) || fields[source] === null) return fail(source, 'is missing');
          return fields[source];
        });
      }
      const labels = task.data.labels;
      if (labels && Object.hasOwn(fields, labels.field) && fields[labels.field] !== null) {
        const value = fields[labels.field];
        const index = labels.names.indexOf(String(value));
        if (index < 0) fail(labels.field, `has label ${JSON.stringify(value)}, expected one of ${labels.names.map((n) => JSON.stringify(n)).join(', ')}`);
        fields[labels.field] = index;
      }
      for (const name of required) if (!Object.hasOwn(fields, name) || fields[name] === null || fields[name] === undefined) fail(name, 'is missing');
      items.push({ fields, file, line, index: items.length });
    }
  }
  if (items.length === 0) throw new DatasetError(file, 'contains no items');
  return { files, items };
}

/**
 * Line-aligned plain-text files, one field each (WMT's source, reference and system outputs): line i of
 * every file makes item i. Lines are read as sacreBLEU reads them (split at \n, trailing whitespace
 * removed, a final newline starting no line, a byte-order mark kept as text), and the files must have
 * equally many lines.
 */
function parseAlignedLines(files: readonly { field: string; path: string; text: string }[]): { row: Row; line: number }[] {
  const columns = files.map(({ text }) => {
    if (text === '') return [];
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    return lines.map(stripEnd);
  });
  columns.forEach((lines, i) => {
    if (lines.length !== columns[0].length) {
      throw new DatasetError(files[i].path, `has ${lines.length} lines but ${files[0].path} (field "${files[0].field}") has ${columns[0].length}; line-aligned files must have equally many`);
    }
  });
  return columns[0].map((_, index) => {
    const row: Row = {};
    files.forEach(({ field }, i) => (row[field] = columns[i][index]));
    return { row, line: index + 1 };
  });
}

/** Renders a template for an item, turning a template failure into an error naming the item's file and line. */
export function renderForItem(item: BenchmarkItem, template: { render(context: Readonly<Record<string, TemplateValue>>): string }, subset: string | null, what: string): string {
  try {
    return template.render(subset === null ? item.fields : { ...item.fields, subset });
  } catch (error) {
    if (error instanceof TemplateError) throw new DatasetError(item.file, `${what}: ${error.message}`, { line: item.line, field: error.missingField });
    throw error;
  }
}

function parseCsv(file: string, text: string, columns: readonly string[]): { row: Row; line: number }[] {
  let records: { record: string[]; raw: string; info: { lines: number } }[];
  try {
    records = parse(text, { info: true, raw: true, skip_empty_lines: true, relax_column_count: true }) as unknown as typeof records;
  } catch (error) {
    if (error instanceof CsvError) throw new DatasetError(file, `is not valid CSV: ${error.message}`, { line: typeof error.lines === 'number' ? error.lines : undefined }, { cause: error });
    throw error;
  }
  return records.map(({ record, raw, info }) => {
    // csv-parse reports the line a record ends on; count back over the newlines inside it. Field counts
    // are checked here rather than by csv-parse, so the error names the line the record starts on.
    const inner = (raw.match(/\n/g) ?? []).length - (raw.endsWith('\n') ? 1 : 0);
    const line = info.lines - inner;
    if (record.length !== columns.length) throw new DatasetError(file, `has ${record.length} fields, expected ${columns.length} (${columns.join(', ')})`, { line });
    const row: Row = {};
    columns.forEach((column, i) => (row[column] = record[i]));
    return { row, line };
  });
}

function parseJsonl(file: string, text: string): { row: Row; line: number }[] {
  const rows: { row: Row; line: number }[] = [];
  text.split('\n').forEach((content, index) => {
    if (content.trim() === '') return;
    const line = index + 1;
    let value: unknown;
    try {
      value = JSON.parse(content);
    } catch (error) {
      throw new DatasetError(file, `is not valid JSON: ${(error as Error).message}`, { line }, { cause: error });
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new DatasetError(file, 'record must be a JSON object', { line });
    rows.push({ row: value as Row, line });
  });
  return rows;
}

import { extname } from 'node:path';
import { DatasetError } from '../../errors.js';
import { readCsvRows } from './csv-reader.js';
import { readJsonlRows } from './jsonl-reader.js';
import { readParquetRows } from './parquet-reader.js';

/**
 * Training records: what one example says before any template or tokenizer touches it. Three shapes are
 * understood, as Hugging Face datasets commonly lay them out:
 * - prompt/completion: `{"prompt": "...", "completion": "..."}`
 * - instruction (Alpaca): `{"instruction": "...", "input": "..." (optional), "output": "..."}`
 * - chat: `{"messages": [{"role": "user", "content": "..."}, {"role": "assistant", "content": "..."}]}`
 */
export type RecordShape = 'prompt-completion' | 'instruction' | 'chat';

export const CHAT_ROLES = ['system', 'user', 'assistant'] as const;
export type ChatRole = (typeof CHAT_ROLES)[number];

export interface ChatMessage {
  readonly role: ChatRole;
  readonly content: string;
}

export type TrainingRecord =
  | { readonly shape: 'prompt-completion'; readonly prompt: string; readonly completion: string }
  | { readonly shape: 'instruction'; readonly instruction: string; readonly input: string; readonly output: string }
  | { readonly shape: 'chat'; readonly messages: readonly ChatMessage[] };

/** Where a record came from: its file and its line (JSONL, CSV) or 1-based row (Parquet). */
export interface RecordLocation {
  readonly file: string;
  readonly line: number;
}

export interface LocatedRecord {
  readonly record: TrainingRecord;
  readonly location: RecordLocation;
}

/** One undecoded row as a reader found it: a JSON value, a CSV header-keyed object, a Parquet row object. */
export interface SourceRow {
  readonly value: unknown;
  readonly line: number;
}

/** The names of the fields (JSONL keys, CSV or Parquet columns) that hold each part of a record. */
export interface FieldNames {
  prompt: string;
  completion: string;
  instruction: string;
  input: string;
  output: string;
  messages: string;
  role: string;
  content: string;
}

export const DEFAULT_FIELD_NAMES: Readonly<FieldNames> = {
  prompt: 'prompt',
  completion: 'completion',
  instruction: 'instruction',
  input: 'input',
  output: 'output',
  messages: 'messages',
  role: 'role',
  content: 'content',
};

export interface RecordOptions {
  /** 'auto' (default) decides each record's shape by which fields it has: messages, then instruction, then prompt. */
  shape?: RecordShape | 'auto';
  fields?: Partial<FieldNames>;
}

/** Loads every record of a `.jsonl`, `.csv` or `.parquet` file; throws DatasetError naming the bad record. */
export async function loadRecords(file: string, options: RecordOptions = {}): Promise<LocatedRecord[]> {
  const rows = await readSourceRows(file);
  if (rows.length === 0) throw new DatasetError(file, 'contains no records');
  return rows.map((row) => {
    const location = { file, line: row.line };
    return { record: parseRecord(row.value, location, options), location };
  });
}

function readSourceRows(file: string): Promise<SourceRow[]> {
  switch (extname(file).toLowerCase()) {
    case '.jsonl':
      return readJsonlRows(file);
    case '.csv':
      return readCsvRows(file);
    case '.parquet':
      return readParquetRows(file);
    default:
      throw new DatasetError(file, 'has an unknown extension: expected .jsonl, .csv or .parquet');
  }
}

/** Checks one row and turns it into a record of the configured (or detected) shape. */
export function parseRecord(value: unknown, location: RecordLocation, options: RecordOptions = {}): TrainingRecord {
  const fields = { ...DEFAULT_FIELD_NAMES, ...options.fields };
  const fail = (detail: string, field?: string): never => {
    throw new DatasetError(location.file, detail, { line: location.line, field });
  };
  if (!isPlainObject(value)) return fail('record must be an object');
  const shape = options.shape === undefined || options.shape === 'auto' ? detectShape(value, fields, fail) : options.shape;
  const text = (name: string, rule: { optional?: boolean; nonEmpty?: boolean } = {}): string => {
    const field = ownField(value, name);
    if (field === undefined || field === null) {
      return rule.optional ? '' : fail('is missing', name);
    }
    if (typeof field !== 'string') return fail(`must be a string, got ${describeType(field)}`, name);
    if (rule.nonEmpty && field.length === 0) return fail('must not be empty', name);
    return field;
  };
  switch (shape) {
    case 'prompt-completion':
      return { shape, prompt: text(fields.prompt), completion: text(fields.completion, { nonEmpty: true }) };
    case 'instruction':
      return {
        shape,
        instruction: text(fields.instruction, { nonEmpty: true }),
        input: text(fields.input, { optional: true }),
        output: text(fields.output, { nonEmpty: true }),
      };
    case 'chat':
      return { shape, messages: parseMessages(ownField(value, fields.messages), fields, fail) };
  }
}

type Fail = (detail: string, field?: string) => never;

function detectShape(value: Record<string, unknown>, fields: FieldNames, fail: Fail): RecordShape {
  const has = (name: string) => ownField(value, name) !== undefined && ownField(value, name) !== null;
  if (has(fields.messages)) return 'chat';
  if (has(fields.instruction)) return 'instruction';
  if (has(fields.prompt)) return 'prompt-completion';
  return fail(`record has none of the fields "${fields.messages}", "${fields.instruction}" or "${fields.prompt}"`);
}

/** The final message must be the assistant's: it is the completion the model learns. */
function parseMessages(raw: unknown, fields: FieldNames, fail: Fail): ChatMessage[] {
  let list = raw;
  // CSV cells hold only text, so a chat column there is a JSON array in a string.
  if (typeof raw === 'string') {
    try {
      list = JSON.parse(raw);
    } catch {
      return fail('is text that is not a JSON array of messages', fields.messages);
    }
  }
  if (raw === undefined || raw === null) return fail('is missing', fields.messages);
  if (!Array.isArray(list)) return fail(`must be an array of messages, got ${describeType(list)}`, fields.messages);
  if (list.length === 0) return fail('must not be empty', fields.messages);
  const messages = list.map((message: unknown, index): ChatMessage => {
    const item = `${fields.messages}[${index}]`;
    const at = (name: string) => `${item}.${name}`;
    if (!isPlainObject(message)) return fail(`must be an object, got ${describeType(message)}`, item);
    const role = ownField(message, fields.role);
    const content = ownField(message, fields.content);
    if (typeof role !== 'string') return fail(`must be a string, got ${describeType(role)}`, at(fields.role));
    if (!isChatRole(role)) return fail(`has unknown role "${role}": expected ${CHAT_ROLES.join(', ')}`, at(fields.role));
    if (typeof content !== 'string') return fail(`must be a string, got ${describeType(content)}`, at(fields.content));
    return { role, content };
  });
  const last = messages.length - 1;
  if (messages[last].role !== 'assistant') {
    const field = `${fields.messages}[${last}].${fields.role}`;
    return fail('must be "assistant": the last message is the completion to learn', field);
  }
  if (messages[last].content.length === 0) return fail('must not be empty', `${fields.messages}[${last}].${fields.content}`);
  return messages;
}

function isChatRole(role: string): role is ChatRole {
  return (CHAT_ROLES as readonly string[]).includes(role);
}

/** The row's own field: a column named "constructor" must not find Object.prototype's. */
function ownField(row: Record<string, unknown>, name: string): unknown {
  return Object.hasOwn(row, name) ? row[name] : undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

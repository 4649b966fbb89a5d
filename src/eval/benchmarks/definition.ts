import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { FieldReader } from '../../config/field-reader.js';
import { InvalidInputError } from '../../errors.js';
import { PromptTemplate, TemplateError } from './template.js';
import { RECORD_TRANSFORMS } from './transforms.js';
import { type DataLocation, type DataSource, dataLocations } from './data-location.js';

/**
 * A benchmark as data: a YAML file holding a suite of tasks (data files and their format, prompt
 * templates, few-shot source, choices and target, scoring, metrics) and named groups of tasks. The
 * format is documented in benchmarks/README.md; every field is checked here and an error names the file
 * and the field's path (`tasks[2].fewshot.sampler`).
 */
export interface BenchmarkSuite {
  readonly name: string;
  readonly file: string;
  /** The folders data paths may be resolved from, in order (see data-location.ts); a run uses the first holding every file it needs. */
  readonly dataLocations: readonly DataLocation[];
  /** The official data's format and where it is published, for the missing-data message. */
  readonly dataSource: DataSource | null;
  readonly tasks: readonly TaskDefinition[];
  readonly groups: readonly GroupDefinition[];
}

export interface GroupDefinition {
  readonly name: string;
  readonly description: string;
  /** Task names (after subset expansion, e.g. `mmlu_anatomy`). */
  readonly tasks: readonly string[];
}

export interface DataDefinition {
  readonly format: 'csv' | 'jsonl' | 'lines';
  /** CSV without a header row: the column names in order. */
  readonly columns: readonly string[] | null;
  /**
   * Split name -> path template relative to the data directory (may use `{{subset}}`); for `lines`,
   * split name -> (field name -> path template of a line-aligned plain-text file).
   */
  readonly splits: Readonly<Record<string, PromptTemplate | Readonly<Record<string, PromptTemplate>>>>;
  readonly transform: string | null;
  /** New list fields built from scalar fields, e.g. `choices: [A, B, C, D]`. */
  readonly lists: Readonly<Record<string, readonly string[]>>;
  /** A field whose value is a class name, turned into its index in `names` (e.g. "entailment" -> 0). */
  readonly labels: { readonly field: string; readonly names: readonly string[] } | null;
}

export interface FewshotDefinition {
  /** The split few-shot examples come from; null when the task has none. */
  readonly split: string | null;
  /** first_n: the first k examples in file order (lm-eval's MMLU); random: k drawn per item from the seed. */
  readonly sampler: 'first_n' | 'random';
  readonly seed: number;
  /** Default number of examples (the command line may override it). */
  readonly shots: number;
}

/**
 * multiple_choice: each choice scored by log-likelihood. generate: the model continues the prompt
 * (greedy) until a stop string or max_new_tokens, and the text is scored against doc_to_target.
 * outputs: no model; doc_to_output renders a recorded system output from the data, scored the same
 * way (rescoring published system outputs, e.g. WMT submissions).
 */
export type ScoringDefinition =
  | { readonly type: 'multiple_choice' }
  | { readonly type: 'generate'; readonly until: readonly string[]; readonly maxNewTokens: number }
  | { readonly type: 'outputs'; readonly docToOutput: PromptTemplate };

export const MULTIPLE_CHOICE_METRICS = ['acc', 'acc_norm', 'f1_macro', 'mcc', 'ece', 'exact_match_grouped', 'f1a'] as const;
export type MultipleChoiceMetric = (typeof MULTIPLE_CHOICE_METRICS)[number];

/** Metrics of generated (or recorded) text against the reference: sacreBLEU's corpus BLEU, chrF, TER and rouge-score's mean F-measures. */
export const TEXT_METRICS = ['bleu', 'chrf', 'ter', 'rouge1', 'rouge2', 'rougeL', 'rougeLsum'] as const;
export type TextMetric = (typeof TEXT_METRICS)[number];

export interface TaskDefinition {
  readonly name: string;
  readonly version: number;
  /** A task with subsets runs once per subset, named `<name>_<subset>`, with `{{subset}}` in its templates. */
  readonly subsets: readonly string[] | null;
  readonly data: DataDefinition;
  readonly evalSplit: string;
  readonly fewshot: FewshotDefinition;
  readonly description: PromptTemplate | null;
  readonly docToText: PromptTemplate;
  readonly docToChoice: readonly PromptTemplate[] | null;
  /** Template rendering the gold choice index (multiple choice) or the reference text (generate). */
  readonly docToTarget: PromptTemplate;
  readonly targetDelimiter: string;
  readonly fewshotDelimiter: string;
  readonly scoring: ScoringDefinition;
  readonly metrics: readonly string[];
  /** exact_match_grouped: items with equal keys form one question, right only if all its items are. */
  readonly groupKey: PromptTemplate | null;
  /** f1a: the choice index counted as the positive class. */
  readonly positiveChoice: number | null;
  /** ROUGE with rouge-score's Porter stemming (its use_stemmer), as HELM and lm-eval's summarization tasks score. */
  readonly rougeUseStemmer: boolean;
}

/** The field's text as a prompt template, a template error reported at the field. */
function template(r: FieldReader, field: string, source: string): PromptTemplate {
  try {
    return new PromptTemplate(source);
  } catch (error) {
    if (error instanceof TemplateError) return r.fail(field, `is not a valid template: ${error.message}`);
    throw error;
  }
}

/**
 * Reads and checks a suite file. `dataDir` (--data-dir) overrides where the data is looked for;
 * `dataDirOrigin` names where it came from in messages (default `--data-dir`); `environment` (default
 * process.env) supplies TUNELOOP_DATA_DIR.
 */
export function loadBenchmarkSuite(file: string, options: { dataDir?: string; dataDirOrigin?: string; environment?: NodeJS.ProcessEnv } = {}): BenchmarkSuite {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new InvalidInputError('benchmark', `cannot read ${file}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = parseYaml(text);
  } catch (error) {
    throw new InvalidInputError(file, `is not valid YAML: ${(error as Error).message}`);
  }
  const top = FieldReader.ofDocument(file, json);
  top.rejectUnknown(['suite', 'description', 'data_dir', 'data_source', 'tasks', 'groups']);
  const dataDirField = top.optionalString('data_dir');
  const fileDataDir = dataDirField === null ? null : isAbsolute(dataDirField) ? dataDirField : resolve(dirname(file), dataDirField);
  const dataSource = readDataSource(top);
  if (fileDataDir !== null && dataSource?.folder) top.fail('data_source.folder', 'and data_dir name the data twice: give one');
  const locations = dataLocations({ dataDir: options.dataDir, dataDirOrigin: options.dataDirOrigin, fileDataDir, source: dataSource, environment: options.environment ?? process.env, definitionFile: file });
  const tasks = top.list('tasks').map(readTask);
  const taskNames = new Set<string>();
  for (const task of tasks) {
    for (const name of task.subsets ? task.subsets.map((s) => `${task.name}_${s}`) : [task.name]) {
      if (taskNames.has(name)) top.fail('tasks', `task name "${name}" appears twice`);
      taskNames.add(name);
    }
  }
  const groups = top.has('groups')
    ? top.list('groups').map((g) => {
        g.rejectUnknown(['name', 'description', 'tasks']);
        const names = g.stringList('tasks');
        names.forEach((n, i) => {
          if (!taskNames.has(n)) g.fail(`tasks[${i}]`, `"${n}" is not a task of this suite`);
        });
        return { name: g.nonEmptyString('name'), description: g.string('description', ''), tasks: names };
      })
    : [];
  return { name: top.nonEmptyString('suite'), file, dataLocations: locations, dataSource, tasks, groups };
}

/** `data_source: {folder, format, published}`: where the data lives under the data roots and what the official files are. */
function readDataSource(top: FieldReader): DataSource | null {
  if (!top.has('data_source')) return null;
  const r = top.requiredChild('data_source');
  r.rejectUnknown(['folder', 'format', 'published']);
  const folder = r.optionalString('folder');
  if (folder !== null && !/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/.test(folder)) r.fail('folder', `"${folder}" must be a relative folder name (letters, digits, "_", "-", ".", "/")`);
  return { folder, format: r.nonEmptyString('format'), published: r.nonEmptyString('published') };
}

function readTask(r: FieldReader): TaskDefinition {
  r.rejectUnknown([
    'name',
    'version',
    'subsets',
    'data',
    'eval_split',
    'fewshot',
    'description',
    'doc_to_text',
    'doc_to_choice',
    'doc_to_target',
    'target_delimiter',
    'fewshot_delimiter',
    'scoring',
    'generation',
    'metrics',
    'group_key',
    'positive_choice',
    'doc_to_output',
    'rouge_use_stemmer',
  ]);
  const name = r.nonEmptyString('name');
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) r.fail('name', `"${name}" may hold only letters, digits, "_", "-" and "."`);
  const data = readData(r.requiredChild('data'));
  const evalSplit = r.nonEmptyString('eval_split');
  if (!(evalSplit in data.splits)) r.fail('eval_split', `"${evalSplit}" is not one of data.splits (${Object.keys(data.splits).join(', ')})`);
  const fewshot = readFewshot(r.child('fewshot'), data);
  const scoringName = r.choice('scoring', ['multiple_choice', 'generate', 'outputs'] as const, 'multiple_choice');
  let scoring: ScoringDefinition;
  if (scoringName === 'multiple_choice') {
    scoring = { type: 'multiple_choice' };
  } else if (scoringName === 'generate') {
    const g = r.requiredChild('generation');
    g.rejectUnknown(['until', 'max_new_tokens']);
    scoring = { type: 'generate', until: g.stringList('until', ['\n\n']), maxNewTokens: g.number('max_new_tokens', 64, { integer: true, min: 1 }) };
  } else {
    scoring = { type: 'outputs', docToOutput: template(r, 'doc_to_output', r.string('doc_to_output')) };
  }
  if (scoring.type !== 'outputs' && r.has('doc_to_output')) r.fail('doc_to_output', 'applies only to scoring: outputs');
  if (scoring.type !== 'generate' && r.has('generation')) r.fail('generation', 'applies only to scoring: generate');
  let docToChoice: PromptTemplate[] | null = null;
  if (r.has('doc_to_choice')) {
    const raw = r.raw('doc_to_choice');
    if (!Array.isArray(raw) || raw.length < 2 || !raw.every((c) => typeof c === 'string')) r.fail('doc_to_choice', 'must be a list of at least two choice templates');
    docToChoice = (raw as string[]).map((c, i) => template(r, `doc_to_choice[${i}]`, c));
  }
  if (scoring.type === 'multiple_choice' && !docToChoice) r.fail('doc_to_choice', 'is required when scoring is multiple_choice');
  const metrics = r.stringList('metrics');
  const known: readonly string[] = scoring.type === 'multiple_choice' ? MULTIPLE_CHOICE_METRICS : TEXT_METRICS;
  metrics.forEach((m, i) => {
    if (!known.includes(m)) r.fail(`metrics[${i}]`, `"${m}" is not a metric of ${scoring.type} tasks (${known.join(', ')})`);
  });
  const groupKey = r.has('group_key') ? template(r, 'group_key', r.string('group_key')) : null;
  if (metrics.includes('exact_match_grouped') && !groupKey) r.fail('group_key', 'is required by the exact_match_grouped metric');
  const positiveChoice = r.optionalNumber('positive_choice', { integer: true, min: 0 });
  if (metrics.includes('f1a') && positiveChoice === null) r.fail('positive_choice', 'is required by the f1a metric');
  if (positiveChoice !== null && docToChoice && positiveChoice >= docToChoice.length) r.fail('positive_choice', `must index one of the ${docToChoice.length} choices`);
  let subsets: string[] | null = null;
  if (r.has('subsets')) {
    subsets = r.stringList('subsets');
    subsets.forEach((s, i) => {
      if (!/^[A-Za-z0-9_.-]+$/.test(s)) r.fail(`subsets[${i}]`, `"${s}" may hold only letters, digits, "_", "-" and "."`);
    });
  }
  return {
    name,
    version: r.number('version', 0, { integer: true, min: 0 }),
    subsets,
    data,
    evalSplit,
    fewshot,
    description: r.has('description') ? template(r, 'description', r.string('description')) : null,
    // Recorded outputs need no prompt; every other task must say what the model reads.
    docToText: template(r, 'doc_to_text', r.string('doc_to_text', scoring.type === 'outputs' ? '' : undefined)),
    docToChoice,
    docToTarget: template(r, 'doc_to_target', r.string('doc_to_target')),
    targetDelimiter: r.string('target_delimiter', ' '),
    fewshotDelimiter: r.string('fewshot_delimiter', '\n\n'),
    scoring,
    metrics,
    groupKey,
    positiveChoice,
    rougeUseStemmer: r.boolean('rouge_use_stemmer', false),
  };
}

function readData(r: FieldReader): DataDefinition {
  r.rejectUnknown(['format', 'columns', 'splits', 'transform', 'lists', 'labels']);
  const format = r.choice('format', ['csv', 'jsonl', 'lines'] as const);
  const columns = r.optionalStringList('columns');
  if (format === 'csv' && !columns) r.fail('columns', 'is required for csv files (they have no header row)');
  const splitsReader = r.requiredChild('splits');
  const splits: Record<string, PromptTemplate | Record<string, PromptTemplate>> = {};
  for (const split of splitsReader.keys()) {
    if (format !== 'lines') {
      splits[split] = template(splitsReader, split, splitsReader.nonEmptyString(split));
      continue;
    }
    // lines: one line-aligned file per field.
    const fieldsReader = splitsReader.requiredChild(split);
    const fields: Record<string, PromptTemplate> = {};
    for (const field of fieldsReader.keys()) fields[field] = template(fieldsReader, field, fieldsReader.nonEmptyString(field));
    if (Object.keys(fields).length === 0) splitsReader.fail(split, 'must map at least one field to its file');
    splits[split] = fields;
  }
  if (Object.keys(splits).length === 0) r.fail('splits', 'must name at least one split');
  const transform = r.optionalString('transform');
  if (transform !== null && !(transform in RECORD_TRANSFORMS)) r.fail('transform', `"${transform}" is not a known transform (${Object.keys(RECORD_TRANSFORMS).join(', ')})`);
  const lists: Record<string, string[]> = {};
  const listsReader = r.child('lists');
  for (const key of listsReader.keys()) lists[key] = listsReader.stringList(key);
  let labels: DataDefinition['labels'] = null;
  if (r.has('labels')) {
    const l = r.requiredChild('labels');
    l.rejectUnknown(['field', 'names']);
    labels = { field: l.nonEmptyString('field'), names: l.stringList('names') };
  }
  return { format, columns, splits, transform, lists, labels };
}

/** An absent `fewshot` section reads as an empty one: no split, no shots. */
function readFewshot(r: FieldReader, data: DataDefinition): FewshotDefinition {
  r.rejectUnknown(['split', 'sampler', 'seed', 'shots']);
  const split = r.has('split') ? r.nonEmptyString('split') : null;
  if (split !== null && !(split in data.splits)) r.fail('split', `"${split}" is not one of data.splits (${Object.keys(data.splits).join(', ')})`);
  const sampler = r.choice('sampler', ['first_n', 'random'] as const, 'random');
  const shots = r.number('shots', 0, { integer: true, min: 0 });
  if (shots > 0 && split === null) r.fail('shots', 'needs fewshot.split to draw examples from');
  return { split, sampler, seed: r.number('seed', 1234, { integer: true, min: 0 }), shots };
}

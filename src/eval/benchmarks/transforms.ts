import { pythonLength, pythonSlice, pythonSplit } from '../python-text.js';
import type { TemplateValue } from './template.js';

/**
 * Record transforms a task definition can name (`data.transform`), for data files whose records are not
 * one item each or need a fix that lm-evaluation-harness's data source applied before prompting. Each
 * takes one parsed row and returns the items it yields; a problem is thrown as a message naming the
 * field, which the loader turns into an error naming file and line.
 */
export type Row = Record<string, TemplateValue>;

export class RowProblem extends Error {
  constructor(
    readonly field: string,
    detail: string,
  ) {
    super(detail);
  }
}

export interface RecordTransform {
  readonly description: string;
  apply(row: Row): Row[];
}

export const RECORD_TRANSFORMS: Readonly<Record<string, RecordTransform>> = {
  superglue_multirc: {
    description: 'official MultiRC JSONL (a passage with questions with answers) -> one item per answer, as the Hugging Face super_glue "multirc" config',
    apply: multircAnswers,
  },
  superglue_wsc: {
    description: 'official WSC JSONL -> the Hugging Face super_glue "wsc.fixed" fields (spans fixed as its _fix_wst), plus pronoun_marked_passage as lm-eval\'s WSC prompt',
    apply: (row) => [wscFixed(row)],
  },
};

function field(row: Row, name: string, path = name): TemplateValue {
  if (!Object.hasOwn(row, name) || row[name] === null || row[name] === undefined) throw new RowProblem(path, 'is missing');
  return row[name];
}

function text(row: Row, name: string, path = name): string {
  const value = field(row, name, path);
  if (typeof value !== 'string') throw new RowProblem(path, `must be a string, got ${JSON.stringify(value)}`);
  return value;
}

function integer(row: Row, name: string, path = name): number {
  const value = field(row, name, path);
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new RowProblem(path, `must be an integer, got ${JSON.stringify(value)}`);
  return value;
}

function object(row: Row, name: string, path = name): Row {
  const value = field(row, name, path);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new RowProblem(path, 'must be an object');
  return value as Row;
}

function list(row: Row, name: string, path = name): Row[] {
  const value = field(row, name, path);
  if (!Array.isArray(value)) throw new RowProblem(path, 'must be a list');
  return value.map((item, i) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new RowProblem(`${path}[${i}]`, 'must be an object');
    return item as Row;
  });
}

function multircAnswers(row: Row): Row[] {
  const paragraphIdx = integer(row, 'idx');
  const passage = object(row, 'passage');
  const paragraph = text(passage, 'text', 'passage.text');
  const items: Row[] = [];
  list(passage, 'questions', 'passage.questions').forEach((q, qi) => {
    const at = `passage.questions[${qi}]`;
    const question = text(q, 'question', `${at}.question`);
    const questionIdx = integer(q, 'idx', `${at}.idx`);
    list(q, 'answers', `${at}.answers`).forEach((a, ai) => {
      const answerAt = `${at}.answers[${ai}]`;
      const label = Object.hasOwn(a, 'label') ? integer(a, 'label', `${answerAt}.label`) : -1;
      items.push({
        paragraph,
        question,
        answer: text(a, 'text', `${answerAt}.text`),
        label,
        idx: { paragraph: paragraphIdx, question: questionIdx, answer: integer(a, 'idx', `${answerAt}.idx`) },
      });
    });
  });
  return items;
}

/**
 * The "wsc.fixed" repair: when a span's text is not in the passage, match its first letter's case to the
 * passage word at its index and drop a trailing period (the record "theyscold" also moves span 2 to
 * word 10). Then the passage with the pronoun marked `*like this*`, as lm-eval builds it: the words
 * before the pronoun, the marked pronoun, the rest, detokenised.
 */
function wscFixed(row: Row): Row {
  const target = object(row, 'target');
  const item: Row = {
    text: text(row, 'text'),
    span1_index: integer(target, 'span1_index', 'target.span1_index'),
    span2_index: integer(target, 'span2_index', 'target.span2_index'),
    span1_text: text(target, 'span1_text', 'target.span1_text'),
    span2_text: text(target, 'span2_text', 'target.span2_text'),
    idx: field(row, 'idx'),
    label: Object.hasOwn(row, 'label') ? field(row, 'label') : -1,
  };
  const passage = item.text as string;
  for (const span of ['span1', 'span2']) {
    let spanText = item[`${span}_text`] as string;
    if (passage.includes(spanText) || spanText === 'Kamenev and Zinoviev' || spanText === 'Kamenev, Zinoviev, and Stalin') continue;
    if (spanText.includes('theyscold')) item.span2_index = 10;
    const word = pythonSplit(passage)[item[`${span}_index`] as number];
    if (word === undefined) throw new RowProblem(`target.${span}_index`, `word ${String(item[`${span}_index`])} is past the end of the text`);
    spanText = (word[0] === word[0].toLowerCase() && word[0] !== word[0].toUpperCase() ? spanText[0].toLowerCase() : spanText[0].toUpperCase()) + spanText.slice(1);
    spanText = spanText.replace(/\.+$/, '').replaceAll('\n', ' ');
    item[`${span}_text`] = spanText;
  }
  item.pronoun_marked_passage = markPronoun(passage, item.span2_index as number, item.span2_text as string);
  return item;
}

function markPronoun(passage: string, pronounIndex: number, pronoun: string): string {
  const before = pythonSplit(passage).slice(0, pronounIndex).join(' ');
  const after = pythonSlice(passage, pythonLength(before) + pythonLength(pronoun) + 1, undefined);
  return detokenize(`${before} *${pronoun}*${after}`);
}

/** lm-eval's `general_detokenize`: undo the spaces a word tokenizer put around punctuation. */
export function detokenize(text: string): string {
  return text
    .replaceAll(" n't", "n't")
    .replaceAll(' )', ')')
    .replaceAll('( ', '(')
    .replaceAll('" ', '"')
    .replaceAll(' "', '"')
    .replace(/ (['.,])/g, '$1');
}

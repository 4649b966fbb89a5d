/**
 * Questions with known answers in the tutor's subjects (history dates, capitals, arithmetic), read from
 * `data/alignment/questions.jsonl`. Each line: `id`, `subject` (history | geography | arithmetic), `kind`
 * (year | name | number: how an answer is recognised), `question`, `answer`, optional `aliases` (other accepted
 * spellings of a name). Every line is checked on load, so a hand edit that breaks the file is reported by line and field.
 */
import { readFileSync } from 'node:fs';
import { DatasetError } from '../../errors.js';
import { parseJsonlObjects } from '../../formats/jsonl.js';

export type QuestionSubject = 'history' | 'geography' | 'arithmetic';
export type AnswerKind = 'year' | 'name' | 'number';

export interface KnownAnswerQuestion {
  readonly id: string;
  readonly subject: QuestionSubject;
  readonly kind: AnswerKind;
  readonly question: string;
  readonly answer: string;
  readonly aliases: readonly string[];
}

const SUBJECT_KINDS: Record<QuestionSubject, AnswerKind> = { history: 'year', geography: 'name', arithmetic: 'number' };
const ARITHMETIC_QUESTION = /^What is (-?\d+) ([+*-]) (-?\d+)\?$/;

function requireString(record: Record<string, unknown>, field: string, file: string, line: number): string {
  const value = record[field];
  if (typeof value !== 'string' || value.trim() === '') throw new DatasetError(file, 'must be a non-empty string', { line, field });
  return value;
}

/** Parses and checks question records; `file` names the source in errors. */
export function parseQuestions(text: string, file: string): KnownAnswerQuestion[] {
  const questions: KnownAnswerQuestion[] = [];
  const seenIds = new Set<string>();
  for (const { fields, line } of parseJsonlObjects(text, file)) {
    const id = requireString(fields, 'id', file, line);
    if (seenIds.has(id)) throw new DatasetError(file, `repeats id "${id}"`, { line, field: 'id' });
    seenIds.add(id);
    const subject = requireString(fields, 'subject', file, line);
    if (!(subject in SUBJECT_KINDS)) throw new DatasetError(file, `must be one of ${Object.keys(SUBJECT_KINDS).join(', ')}, got "${subject}"`, { line, field: 'subject' });
    const kind = requireString(fields, 'kind', file, line);
    const expectedKind = SUBJECT_KINDS[subject as QuestionSubject];
    if (kind !== expectedKind) throw new DatasetError(file, `must be "${expectedKind}" for subject "${subject}", got "${kind}"`, { line, field: 'kind' });
    const question = requireString(fields, 'question', file, line);
    const answer = requireString(fields, 'answer', file, line);
    if (kind === 'year' && !/^\d{1,4}$/.test(answer)) throw new DatasetError(file, `must be a year AD in digits, got "${answer}"`, { line, field: 'answer' });
    if (kind === 'number') {
      // Arithmetic answers are recomputed, so a wrong answer in the data cannot teach the rater a wrong rule.
      const match = ARITHMETIC_QUESTION.exec(question);
      if (!match) throw new DatasetError(file, 'must read "What is A op B?" with integers A, B and op one of + - *', { line, field: 'question' });
      const [a, b] = [Number(match[1]), Number(match[3])];
      const expected = match[2] === '+' ? a + b : match[2] === '-' ? a - b : a * b;
      if (answer !== String(expected)) throw new DatasetError(file, `is "${answer}" but ${a} ${match[2]} ${b} = ${expected}`, { line, field: 'answer' });
    }
    const aliases = fields.aliases ?? [];
    if (!Array.isArray(aliases) || aliases.some((alias) => typeof alias !== 'string' || alias.trim() === '')) {
      throw new DatasetError(file, 'must be a list of non-empty strings', { line, field: 'aliases' });
    }
    questions.push({ id, subject: subject as QuestionSubject, kind: kind as AnswerKind, question, answer, aliases: aliases as string[] });
  }
  return questions;
}

export function loadQuestions(path: string): KnownAnswerQuestion[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new DatasetError(path, 'cannot be read', {}, { cause });
  }
  return parseQuestions(text, path);
}

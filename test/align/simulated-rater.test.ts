import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { classifyAnswer, type AnswerVerdict } from '../../src/align/simulated-rater/classify-answer.js';
import { parsePreferencePairs } from '../../src/align/preference-pairs.js';
import { preferencePairs, writePreferencePairs } from '../../src/align/simulated-rater/preference-pairs.js';
import { loadQuestions, parseQuestions, type KnownAnswerQuestion } from '../../src/align/simulated-rater/questions.js';
import { SimulatedRater } from '../../src/align/simulated-rater/rater.js';
import { DatasetError, InvalidInputError } from '../../src/errors.js';
import { repoRoot } from '../helpers/paths.js';

const questionsFile = join(repoRoot, 'data', 'alignment', 'questions.jsonl');
const questions = loadQuestions(questionsFile);
const byId = (id: string): KnownAnswerQuestion => questions.find((question) => question.id === id)!;
const hastings = byId('date-001');
const france = byId('capital-001');
const capitals = questions.filter((question) => question.kind === 'name').map((question) => question.answer);
const arithmetic = questions.find((question) => question.question === 'What is 12 + 7?') ?? parseQuestions('{"id":"a","subject":"arithmetic","kind":"number","question":"What is 12 + 7?","answer":"19"}', 'inline')[0];

function verdict(question: KnownAnswerQuestion, completion: string): AnswerVerdict {
  return classifyAnswer(question, completion, capitals).verdict;
}

describe('shipped question set', () => {
  test('covers the three subjects, with unique ids and answers checked on load', () => {
    const counts = { history: 0, geography: 0, arithmetic: 0 };
    for (const question of questions) counts[question.subject]++;
    assert.ok(counts.history >= 25 && counts.geography >= 25 && counts.arithmetic >= 200, JSON.stringify(counts));
    assert.equal(new Set(questions.map((question) => question.id)).size, questions.length);
    assert.equal(hastings.answer, '1066');
    assert.equal(france.answer, 'Paris');
  });

  test('a wrong arithmetic answer, a bad subject or a bad year is a DatasetError naming line and field', () => {
    const cases: [string, string][] = [
      ['{"id":"x","subject":"arithmetic","kind":"number","question":"What is 2 + 2?","answer":"5"}', 'answer'],
      ['{"id":"x","subject":"chemistry","kind":"name","question":"Q?","answer":"A"}', 'subject'],
      ['{"id":"x","subject":"history","kind":"year","question":"When?","answer":"the 1060s"}', 'answer'],
      ['{"id":"x","subject":"history","kind":"name","question":"When?","answer":"1066"}', 'kind'],
      ['{"id":"x","subject":"geography","kind":"name","question":"","answer":"Paris"}', 'question'],
      ['{"id":"x","subject":"geography","kind":"name","question":"Q?","answer":"Paris","aliases":[3]}', 'aliases'],
    ];
    for (const [line, field] of cases) {
      assert.throws(() => parseQuestions(`\n${line}\n`, 'q.jsonl'), (error: unknown) => DatasetError.isInstance(error) && error.line === 2 && error.field === field, line);
    }
    const twice = '{"id":"x","subject":"geography","kind":"name","question":"Q?","answer":"A"}';
    assert.throws(() => parseQuestions(`${twice}\n${twice}`, 'q.jsonl'), (error: unknown) => DatasetError.isInstance(error) && error.field === 'id');
  });
});

describe('classifyAnswer', () => {
  const table: [KnownAnswerQuestion, string, AnswerVerdict][] = [
    [hastings, '1066', 'correct'],
    [hastings, 'in 1066.', 'correct'],
    [hastings, 'The Battle of Hastings was fought on 14 October 1066!', 'correct'],
    [hastings, '1,066', 'correct'],
    [hastings, 'It was not 1067, it was 1066.', 'correct'],
    [hastings, 'No, it was 1066.', 'correct'],
    [hastings, 'not 1066', 'wrong'],
    [hastings, "It certainly wasn't 1066.", 'wrong'],
    [hastings, '1066 or 1067', 'wrong'],
    [hastings, 'Either 1066 or so.', 'wrong'],
    [hastings, '1067', 'wrong'],
    [hastings, 'It was a long time ago.', 'wrong'],
    [hastings, "I don't know.", 'abstained'],
    [hastings, 'I DO NOT KNOW', 'abstained'],
    [hastings, 'I’m not sure, perhaps 1066?', 'abstained'],
    [hastings, 'No idea, sorry.', 'abstained'],
    [france, 'Paris', 'correct'],
    [france, 'It is Paris.', 'correct'],
    [france, 'paris!!', 'correct'],
    [france, 'The capital of France is Paris, not Lyon.', 'correct'],
    [france, 'Paris or Lyon', 'wrong'],
    [france, 'Paris and Berlin', 'wrong'],
    [france, 'Berlin', 'wrong'],
    [france, 'It is not Paris.', 'wrong'],
    [france, "I don't know, maybe Paris", 'abstained'],
    [france, 'Parisian food is great.', 'wrong'],
    [byId('capital-009'), 'Brasília', 'correct'],
    [byId('capital-009'), 'brasilia', 'correct'],
    [byId('capital-015'), 'It is Mexico City.', 'correct'],
    [byId('capital-015'), 'Mexico', 'wrong'],
    [arithmetic, '19', 'correct'],
    [arithmetic, '12 + 7 = 19.', 'correct'],
    [arithmetic, 'The answer is 19.0', 'correct'],
    [arithmetic, '12 + 7 = 20', 'wrong'],
    [arithmetic, '12', 'wrong'],
    [arithmetic, '19 or 20', 'wrong'],
    [arithmetic, 'idk', 'abstained'],
    [arithmetic, 'nineteen', 'wrong'],
  ];
  for (const [question, completion, expected] of table) {
    test(`${question.question} "${completion}" is ${expected}`, () => {
      assert.equal(verdict(question, completion), expected, classifyAnswer(question, completion, capitals).reason);
    });
  }

  test('negative numbers, with a hyphen or a Unicode minus', () => {
    const negative = parseQuestions('{"id":"n","subject":"arithmetic","kind":"number","question":"What is 3 - 15?","answer":"-12"}', 'inline')[0];
    assert.equal(verdict(negative, '-12'), 'correct');
    assert.equal(verdict(negative, '3 - 15 = \u221212'), 'correct');
    assert.equal(verdict(negative, '12'), 'wrong');
  });

  test('an empty completion is an InvalidInputError naming the completion', () => {
    assert.throws(() => classifyAnswer(france, '  \n'), (error: unknown) => InvalidInputError.isInstance(error) && error.field === 'completion');
  });
});

describe('SimulatedRater', () => {
  const correct = 'It is Paris.';
  const abstain = "I don't know.";
  const wrong = 'Lyon';

  test('ranks correct above "I don\'t know" above wrong, whatever the input order', () => {
    const rater = new SimulatedRater(questions, { seed: 1 });
    const ranking = rater.rank(france.question, [wrong, abstain, correct]);
    assert.deepEqual(ranking.ranked.map((item) => item.verdict), ['correct', 'abstained', 'wrong']);
    assert.deepEqual(ranking.ranked.map((item) => item.index), [2, 1, 0]);
    assert.equal(ranking.source, 'simulated-rater/honesty-v1/seed-1');
    assert.equal(ranking.questionId, 'capital-001');
  });

  test('pairwise preference for two, by question text or id', () => {
    const rater = new SimulatedRater(questions, { seed: 3, id: 'rater-a' });
    const preference = rater.compare('capital-001', wrong, abstain);
    assert.equal(preference.preferred, 'b');
    assert.equal(preference.tie, false);
    assert.equal(preference.source, 'rater-a');
    assert.equal(rater.compare(`  ${france.question}\n`, correct, abstain).preferred, 'a');
  });

  test('ties are broken at random, reproducibly for a seed, and both ways over many draws', () => {
    const ties = ['Paris', 'It is Paris.', 'paris', 'The capital is Paris.'];
    const orders = (seed: number): string[] => {
      const rater = new SimulatedRater(questions, { seed });
      return Array.from({ length: 20 }, () => rater.rank(france.question, ties).ranked.map((item) => item.index).join(''));
    };
    assert.deepEqual(orders(7), orders(7));
    assert.notDeepEqual(orders(7), orders(8));
    assert.ok(new Set(orders(7)).size > 1, 'the tie order must vary between draws');
    const rater = new SimulatedRater(questions, { seed: 11 });
    const preferred = Array.from({ length: 200 }, () => rater.compare(france.question, 'Paris', 'It is Paris.'));
    assert.ok(preferred.every((preference) => preference.tie));
    const firstWins = preferred.filter((preference) => preference.preferred === 'a').length;
    assert.ok(firstWins > 60 && firstWins < 140, `a won ${firstWins} of 200 ties`);
  });

  test('an unknown question, an empty completion, no completions or a fractional seed is an InvalidInputError naming the field', () => {
    const rater = new SimulatedRater(questions, { seed: 1 });
    const named = (field: string) => (error: unknown) => InvalidInputError.isInstance(error) && error.field === field;
    assert.throws(() => rater.rank('What is the capital of Atlantis?', [correct]), named('prompt'));
    assert.throws(() => rater.rank(france.question, [correct, ' ']), named('completions[1]'));
    assert.throws(() => rater.rank(france.question, []), named('completions'));
    assert.throws(() => new SimulatedRater(questions, { seed: 1.5 }), named('seed'));
  });
});

describe('TRL preference pairs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tuneloop-rater-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('one pair per pair of classes, margins 1 or 2, ties give none; the JSONL round-trips', () => {
    const rater = new SimulatedRater(questions, { seed: 5 });
    const ranking = rater.rank(hastings.question, ['1066', 'in 1066.', "I don't know", '1067']);
    const pairs = preferencePairs(ranking);
    // 2 correct x (1 abstained + 1 wrong) + 1 abstained x 1 wrong; the two correct answers tie and give no pair.
    assert.equal(pairs.length, 5);
    assert.ok(pairs.every((pair) => pair.prompt === hastings.question && pair.source === rater.id));
    assert.ok(!pairs.some((pair) => ['1066', 'in 1066.'].includes(pair.chosen) && ['1066', 'in 1066.'].includes(pair.rejected)));
    assert.deepEqual(pairs.filter((pair) => pair.rejected === '1067').map((pair) => pair.margin).sort(), [1, 2, 2]);
    const path = join(dir, 'pairs.jsonl');
    writePreferencePairs(path, pairs);
    assert.deepEqual(readdirSync(dir), ['pairs.jsonl'], 'the staging file is renamed away');
    const text = readFileSync(path, 'utf8');
    assert.deepEqual(Object.keys(JSON.parse(text.split('\n')[0])), ['prompt', 'chosen', 'rejected', 'source', 'margin']);
    assert.deepEqual(parsePreferencePairs(text, path), pairs);
  });

  test('a pair file that cannot be written is a DatasetError naming it, and leaves no staging file', () => {
    const path = join(dir, 'missing-folder', 'pairs.jsonl');
    const pair = { prompt: 'p', chosen: 'c', rejected: 'r', source: 's', margin: 1 };
    assert.throws(() => writePreferencePairs(path, [pair]), (error: unknown) => DatasetError.isInstance(error) && error.file === path);
    assert.ok(!readdirSync(dir).some((name) => name.includes('.tmp-')));
  });

  test('a pair file with a missing field or a non-numeric margin is a DatasetError naming line and field', () => {
    const good = '{"prompt":"p","chosen":"c","rejected":"r","source":"s","margin":1}';
    assert.throws(() => parsePreferencePairs(`${good}\n{"prompt":"p","rejected":"r","source":"s","margin":1}`, 'p.jsonl'), (error: unknown) => DatasetError.isInstance(error) && error.line === 2 && error.field === 'chosen');
    assert.throws(() => parsePreferencePairs('{"prompt":"p","chosen":"c","rejected":"r","source":"s","margin":"1"}', 'p.jsonl'), (error: unknown) => DatasetError.isInstance(error) && error.field === 'margin');
  });
});

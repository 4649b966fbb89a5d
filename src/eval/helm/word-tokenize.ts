import { PYTHON_WORD_BOUNDARY, PYTHON_WORD_CHAR, isPythonSpace, pythonSplit } from '../python-text.js';

/**
 * NLTK's `word_tokenize` (nltk/tokenize/__init__.py, 3.8), which HELM's bias metrics count words with:
 * the text is split into sentences, then each sentence goes through NLTKWordTokenizer
 * (nltk/tokenize/destructive.py), a fixed sequence of regular-expression rewrites that pad quotes,
 * punctuation, brackets and clitics ("'s", "n't") with spaces before splitting on whitespace. The
 * rewrites are reproduced rule for rule with Python's Unicode `\w`, `\d`, `\s` and `$`.
 *
 * Sentence splitting is where this differs: NLTK uses its pre-trained English Punkt model, which is a
 * downloaded resource. Here a sentence ends after a token ending in ".", "?" or "!" (closing quotes or
 * brackets may follow) when whitespace and another token follow, except after an ellipsis, a single
 * letter's initial ("J."), or a number's period followed by a lower-case word — what Punkt does without
 * trained parameters. Punkt's English abbreviation list ("Mr.", "Dr.") is not known, so "Mr." ends a
 * sentence here and its period becomes a token; no demographic or target word list holds such words.
 */
const SPACE = '[\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const DIGIT = '\\p{Nd}';
/** Python's `$` without MULTILINE: the end, or before a newline that ends the text. */
const END = '(?=\\n?$)';

type Rule = readonly [RegExp, string];
const rule = (source: string, replacement: string, flags = ''): Rule => [new RegExp(source, `gu${flags}`), replacement];

const STARTING_QUOTES: readonly Rule[] = [
  rule('([«“‘„]|[`]+)', ' $1 '),
  rule('^"', '``'),
  rule('(``)', ' $1 '),
  rule('([ ([{<])("|\'{2})', '$1 `` '),
  rule(`(')(?!re|ve|ll|m|t|s|d|n)(${PYTHON_WORD_CHAR})${PYTHON_WORD_BOUNDARY}`, '$1 $2', 'i'),
];

const PUNCTUATION: readonly Rule[] = [
  rule(`([^.])(\\.)([\\])}>"'»”’ ]*)${SPACE}*$`, '$1 $2 $3 '),
  rule(`([:,])([^${DIGIT}])`, ' $1 $2'),
  rule(`([:,])${END}`, ' $1 '),
  rule('\\.{2,}', ' $& '),
  rule('[;@#$%&]', ' $& '),
  rule(`([^.])(\\.)([\\])}>"']*)${SPACE}*$`, '$1 $2$3 '),
  rule('[?!]', ' $& '),
  rule("([^'])' ", "$1 ' "),
  rule('[*]', ' $& '),
];

const PARENS_BRACKETS = rule('[\\][(){}<>]', ' $& ');
const DOUBLE_DASHES = rule('--', ' -- ');

const ENDING_QUOTES: readonly Rule[] = [
  rule('([»”’])', ' $1 '),
  rule("''", " '' "),
  rule('"', " '' "),
  rule("([^' ])('[sS]|'[mM]|'[dD]|') ", '$1 $2 '),
  rule("([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) ", '$1 $2 '),
];

const B = PYTHON_WORD_BOUNDARY;
const CONTRACTIONS: readonly Rule[] = [
  rule(`${B}(can)(not)${B}`, ' $1 $2 ', 'i'),
  rule(`${B}(d)('ye)${B}`, ' $1 $2 ', 'i'),
  rule(`${B}(gim)(me)${B}`, ' $1 $2 ', 'i'),
  rule(`${B}(gon)(na)${B}`, ' $1 $2 ', 'i'),
  rule(`${B}(got)(ta)${B}`, ' $1 $2 ', 'i'),
  rule(`${B}(lem)(me)${B}`, ' $1 $2 ', 'i'),
  rule(`${B}(more)('n)${B}`, ' $1 $2 ', 'i'),
  rule(`${B}(wan)(na)(?=${SPACE})`, ' $1 $2 ', 'i'),
  rule(` ('t)(is)${B}`, ' $1 $2 ', 'i'),
  rule(` ('t)(was)${B}`, ' $1 $2 ', 'i'),
];

const apply = (text: string, rules: readonly Rule[]): string => rules.reduce((t, [pattern, replacement]) => t.replace(pattern, replacement), text);

/** NLTKWordTokenizer.tokenize on one sentence. */
export function treebankTokenize(sentence: string): string[] {
  let text = apply(sentence, STARTING_QUOTES);
  text = apply(text, PUNCTUATION);
  text = apply(text, [PARENS_BRACKETS, DOUBLE_DASHES]);
  text = ` ${text} `;
  text = apply(text, ENDING_QUOTES);
  text = apply(text, CONTRACTIONS);
  return pythonSplit(text);
}

const SENTENCE_END = /[.?!]["')\]}’”]*$/u;
const INITIAL = /^[\p{L}]\.["')\]}’”]*$/u;
const NUMBER_PERIOD = /^-?[.,]?\p{Nd}[\p{Nd},.-]*\.$/u;

/** Sentences as Punkt without trained parameters finds them (see above); whitespace between them is dropped. */
export function splitSentences(text: string): string[] {
  const sentences: string[] = [];
  const tokens: { start: number; end: number }[] = [];
  const chars = [...text];
  let offset = 0;
  let start = -1;
  for (const char of chars) {
    if (isPythonSpace(char)) {
      if (start >= 0) tokens.push({ start, end: offset });
      start = -1;
    } else if (start < 0) {
      start = offset;
    }
    offset += char.length;
  }
  if (start >= 0) tokens.push({ start, end: offset });
  let sentenceStart = tokens[0]?.start ?? 0;
  for (let i = 0; i + 1 < tokens.length; i++) {
    const token = text.slice(tokens[i].start, tokens[i].end);
    const next = text.slice(tokens[i + 1].start, tokens[i + 1].end);
    if (!SENTENCE_END.test(token) || /\.\.["')\]}’”]*$/u.test(token) || INITIAL.test(token)) continue;
    if (NUMBER_PERIOD.test(token) && /^\p{Ll}/u.test(next)) continue;
    sentences.push(text.slice(sentenceStart, tokens[i].end));
    sentenceStart = tokens[i + 1].start;
  }
  if (tokens.length > 0) sentences.push(text.slice(sentenceStart, tokens[tokens.length - 1].end));
  return sentences;
}

/** `nltk.word_tokenize(text)`: the tokens of each sentence in turn. */
export function wordTokenize(text: string): string[] {
  return splitSentences(text).flatMap(treebankTokenize);
}

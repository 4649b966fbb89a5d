import { InvalidInputError } from '../../errors.js';
import { collapseWhitespace, strip } from './whitespace.js';

/**
 * The tokenizers sacreBLEU 2.x applies before counting BLEU n-grams, named as in its signatures.
 * Each returns the line with tokens separated by single spaces.
 */
export const BLEU_TOKENIZERS = ['13a', 'intl', 'zh', 'char', 'none'] as const;
export type BleuTokenizerName = (typeof BLEU_TOKENIZERS)[number];

export type BleuTokenizer = (line: string) => string;

/**
 * mteval-v13a's punctuation rules, shared by `13a` and `zh`: split off ASCII symbols, then periods and
 * commas unless they sit between digits, then a hyphen that follows a digit.
 */
const MTEVAL_RULES: readonly [RegExp, string][] = [
  [/([{-~[-`\x20-&(-+:-@/])/gu, ' $1 '],
  [/([^0-9])([.,])/gu, '$1 $2 '],
  [/([.,])([^0-9])/gu, ' $1 $2'],
  [/([0-9])(-)/gu, '$1 $2 '],
];

function mtevalPunctuation(line: string): string {
  for (const [pattern, replacement] of MTEVAL_RULES) line = line.replace(pattern, replacement);
  return collapseWhitespace(line);
}

function tokenize13a(line: string): string {
  line = line.replaceAll('<skipped>', '').replaceAll('-\n', '').replaceAll('\n', ' ');
  if (line.includes('&')) {
    // In this order, as mteval does: "&amp;lt;" ends as "<".
    line = line.replaceAll('&quot;', '"').replaceAll('&amp;', '&').replaceAll('&lt;', '<').replaceAll('&gt;', '>');
  }
  // The padding lets a period or comma at either end of the line be split off.
  return mtevalPunctuation(` ${line} `);
}

/** mteval-v14's international rules: split punctuation unless it touches a digit on the far side, and all symbols. */
const INTERNATIONAL_RULES: readonly [RegExp, string][] = [
  [/(\P{N})(\p{P})/gu, '$1 $2 '],
  [/(\p{P})(\P{N})/gu, ' $1 $2'],
  [/(\p{S})/gu, ' $1 '],
];

function tokenizeInternational(line: string): string {
  for (const [pattern, replacement] of INTERNATIONAL_RULES) line = line.replace(pattern, replacement);
  return collapseWhitespace(line);
}

/**
 * The code point ranges sacreBLEU's `zh` tokenizer treats as Chinese characters, each of which becomes a
 * token. sacreBLEU writes two of its ranges as `'\u20000'..'\u2a6d6'` and `'\u2f800'..'\u2fa1d'`; Python
 * reads those as two-character strings ("\u2000" + "0" ...), and comparing a single character against them
 * selects U+2001..U+2A6D and U+2F81..U+2FA1 (general punctuation, currency, arrows, math symbols ...), not
 * CJK Extension B. The ranges below are what that code really selects, so scores agree with sacreBLEU's.
 */
const ZH_CHARACTER_RANGES: readonly [number, number][] = [
  [0x3400, 0x4db5],
  [0x4e00, 0x9fa5],
  [0x9fa6, 0x9fbb],
  [0xf900, 0xfa2d],
  [0xfa30, 0xfa6a],
  [0xfa70, 0xfad9],
  [0x2001, 0x2a6d],
  [0x2f81, 0x2fa1],
  [0xff00, 0xffef],
  [0x2e80, 0x2eff],
  [0x3000, 0x303f],
  [0x31c0, 0x31ef],
  [0x2f00, 0x2fdf],
  [0x2ff0, 0x2fff],
  [0x3100, 0x312f],
  [0x31a0, 0x31bf],
  [0xfe10, 0xfe1f],
  [0xfe30, 0xfe4f],
  [0x2600, 0x26ff],
  [0x2700, 0x27bf],
  [0x3200, 0x32ff],
  [0x3300, 0x33ff],
];

function isZhCharacter(codePoint: number): boolean {
  return ZH_CHARACTER_RANGES.some(([first, last]) => codePoint >= first && codePoint <= last);
}

function tokenizeZh(line: string): string {
  let spaced = '';
  for (const char of strip(line)) spaced += isZhCharacter(char.codePointAt(0)!) ? ` ${char} ` : char;
  return mtevalPunctuation(spaced);
}

/** Every character (code point) a token. */
function tokenizeChar(line: string): string {
  return Array.from(line).join(' ');
}

const TOKENIZERS: Record<BleuTokenizerName, BleuTokenizer> = {
  '13a': tokenize13a,
  intl: tokenizeInternational,
  zh: tokenizeZh,
  char: tokenizeChar,
  none: (line) => line,
};

export function isBleuTokenizerName(name: string): name is BleuTokenizerName {
  return (BLEU_TOKENIZERS as readonly string[]).includes(name);
}

export function bleuTokenizer(name: string): BleuTokenizer {
  if (!isBleuTokenizerName(name)) throw new InvalidInputError('tokenize', `unknown tokenizer "${name}"; expected one of ${BLEU_TOKENIZERS.join(', ')}`);
  return TOKENIZERS[name];
}

import { collapseWhitespace } from './whitespace.js';

/**
 * Tercom's text normalization as sacreBLEU 2.x applies it before TER: lowercasing unless case-sensitive,
 * optional mteval-style punctuation splitting (`normalized`), optional punctuation removal (`noPunct`),
 * and with `asianSupport` the CJK rules of each.
 */
export interface TerTokenizerOptions {
  normalized?: boolean;
  noPunct?: boolean;
  asianSupport?: boolean;
  caseSensitive?: boolean;
}

const WESTERN_RULES: readonly [RegExp, string][] = [
  [/\n-/gu, ''],
  [/\n/gu, ' '],
  [/&quot;/gu, '"'],
  [/&amp;/gu, '&'],
  [/&lt;/gu, '<'],
  [/&gt;/gu, '>'],
];

// Run on the line padded with spaces. (Tercom also has an `'s$` rule; after the padding it can never match.)
const WESTERN_PADDED_RULES: readonly [RegExp, string][] = [
  [/([{-~[-`\x20-&(-+:-@/])/gu, ' $1 '],
  [/'s /gu, " 's "],
  [/([^0-9])([.,])/gu, '$1 $2 '],
  [/([.,])([^0-9])/gu, ' $1 $2'],
  [/([0-9])(-)/gu, '$1 $2 '],
];

const ASIAN_PUNCTUATION = /([\u3001\u3002\u3008-\u3011\u3014-\u301f\uff61-\uff65\u30fb])/gu;
const FULL_WIDTH_PUNCTUATION = /([\uff0e\uff0c\uff1f\uff1a\uff1b\uff01\uff02\uff08\uff09])/gu;

/**
 * CJK ideographs, strokes, radicals and symbols become single tokens. (Tercom's kana rules are anchored
 * to the start and end of the whole line, which after the western padding always starts with a space,
 * so they never apply and are left out.)
 */
const ASIAN_RULES: readonly [RegExp, string][] = [
  [/([\u4e00-\u9fff\u3400-\u4dbf])/gu, ' $1 '],
  [/([\u31c0-\u31ef\u2e80-\u2eff])/gu, ' $1 '],
  [/([\u3300-\u33ff\uf900-\ufaff\ufe30-\ufe4f])/gu, ' $1 '],
  [/([\u3200-\u3f22])/gu, ' $1 '],
  [ASIAN_PUNCTUATION, ' $1 '],
  [FULL_WIDTH_PUNCTUATION, ' $1 '],
];

function applyRules(text: string, rules: readonly [RegExp, string][]): string {
  for (const [pattern, replacement] of rules) text = text.replace(pattern, replacement);
  return text;
}

export function terTokenize(text: string, options: TerTokenizerOptions = {}): string {
  if (!text) return '';
  if (!options.caseSensitive) text = text.toLowerCase();
  if (options.normalized) {
    text = applyRules(` ${applyRules(text, WESTERN_RULES)} `, WESTERN_PADDED_RULES);
    if (options.asianSupport) text = applyRules(text, ASIAN_RULES);
  }
  if (options.noPunct) {
    text = text.replace(/[.,?:;!"()]/gu, '');
    if (options.asianSupport) text = text.replace(ASIAN_PUNCTUATION, '').replace(FULL_WIDTH_PUNCTUATION, '');
  }
  return collapseWhitespace(text);
}

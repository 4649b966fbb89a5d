/**
 * Python's string semantics where a reference implementation depends on them: lm-evaluation-harness's
 * prompts call `str.strip()` and slice strings, and the SQuAD script splits on `str.split()`. JavaScript's
 * `trim()` and `\s` disagree with Python on U+0085, U+001C..U+001F and U+FEFF, and JavaScript indexes
 * UTF-16 code units where Python indexes code points, so these helpers follow Python instead.
 */

/** The characters for which Python's `str.isspace()` is true. */
const PYTHON_WHITESPACE = new Set(
  [0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000].map((c) =>
    String.fromCodePoint(c),
  ),
);

export function isPythonSpace(char: string): boolean {
  return PYTHON_WHITESPACE.has(char);
}

/** `s.strip()`, `s.lstrip()`, `s.rstrip()` without arguments. */
export function pythonStrip(text: string, side: 'both' | 'left' | 'right' = 'both'): string {
  let start = 0;
  let end = text.length;
  if (side !== 'right') while (start < end && isPythonSpace(text[start])) start++;
  if (side !== 'left') while (end > start && isPythonSpace(text[end - 1])) end--;
  return text.slice(start, end);
}

/** `s.split()` without arguments: runs of whitespace separate, leading and trailing whitespace is dropped. */
export function pythonSplit(text: string): string[] {
  const words: string[] = [];
  let current = '';
  for (const char of text) {
    if (isPythonSpace(char)) {
      if (current !== '') words.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  if (current !== '') words.push(current);
  return words;
}

/** Python's `len(s)`: code points, not UTF-16 code units. */
export function pythonLength(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** Python's `s[start:end]` (both optional, negative counting from the end), by code points. */
export function pythonSlice(text: string, start: number | undefined, end: number | undefined): string {
  const chars = Array.from(text);
  const clamp = (i: number) => (i < 0 ? Math.max(0, chars.length + i) : Math.min(i, chars.length));
  const from = start === undefined ? 0 : clamp(start);
  const to = end === undefined ? chars.length : clamp(end);
  return from < to ? chars.slice(from, to).join('') : '';
}

/** Python's `s[i]` by code point; undefined when out of range. */
export function pythonIndex(text: string, index: number): string | undefined {
  const chars = Array.from(text);
  const i = index < 0 ? chars.length + index : index;
  return i >= 0 && i < chars.length ? chars[i] : undefined;
}

/**
 * One character of Python's `\w` in a str pattern (Unicode letters and numbers, and `_`), as a
 * JavaScript character class for a `u`-flag RegExp; JavaScript's own `\w` and `\b` are ASCII-only.
 */
export const PYTHON_WORD_CHAR = '[\\p{L}\\p{N}_]';
/** One character outside Python's `\w`. */
export const PYTHON_NON_WORD_CHAR = '[^\\p{L}\\p{N}_]';
/** Python's `\b` between a `\w` and a non-`\w` character (or the text's ends), for a `u`-flag RegExp. */
export const PYTHON_WORD_BOUNDARY = `(?:(?<=${PYTHON_WORD_CHAR})(?!${PYTHON_WORD_CHAR})|(?<!${PYTHON_WORD_CHAR})(?=${PYTHON_WORD_CHAR}))`;

/** `c.islower()` for one character: it has Unicode's Lowercase property. */
export function isPythonLower(char: string): boolean {
  return /^\p{Lowercase}$/u.test(char);
}

/** `c.isupper()` for one character: it has Unicode's Uppercase property (titlecase letters do not). */
export function isPythonUpper(char: string): boolean {
  return /^\p{Uppercase}$/u.test(char);
}

/**
 * `s.capitalize()`: the first character upper-cased and the rest lower-cased. Python title-cases the
 * first character, which differs from upper-casing only for the four Latin digraphs (U+01C4..U+01CC,
 * U+01F1..U+01F3), handled here.
 */
export function pythonCapitalize(text: string): string {
  const [first, ...rest] = [...text];
  if (first === undefined) return '';
  const titlecase: Record<string, string> = { Ǆ: 'ǅ', ǅ: 'ǅ', ǆ: 'ǅ', Ǉ: 'ǈ', ǈ: 'ǈ', ǉ: 'ǈ', Ǌ: 'ǋ', ǋ: 'ǋ', ǌ: 'ǋ', Ǳ: 'ǲ', ǲ: 'ǲ', ǳ: 'ǲ' };
  return (titlecase[first] ?? first.toUpperCase()) + rest.join('').toLowerCase();
}

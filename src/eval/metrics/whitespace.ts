/**
 * Python's notion of whitespace, which sacreBLEU's `str.split()` and `str.strip()` calls use to cut tokens.
 * It differs from JavaScript's `\s`: Python also counts U+001C..U+001F and U+0085 (NEL) as whitespace and
 * does not count U+FEFF (BOM), so a tokenizer built on `\s` would split some lines differently.
 */
const PYTHON_WHITESPACE = '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

const RUNS = new RegExp(`[${PYTHON_WHITESPACE}]+`, 'u');
const LEADING = new RegExp(`^[${PYTHON_WHITESPACE}]+`, 'u');
const TRAILING = new RegExp(`[${PYTHON_WHITESPACE}]+$`, 'u');

/** Python's `text.split()`: the non-empty runs between whitespace. */
export function splitWhitespace(text: string): string[] {
  return text.split(RUNS).filter((token) => token.length > 0);
}

/** Python's `text.rstrip()`. */
export function stripEnd(text: string): string {
  return text.replace(TRAILING, '');
}

/** Python's `text.strip()`. */
export function strip(text: string): string {
  return text.replace(LEADING, '').replace(TRAILING, '');
}

/** Python's `' '.join(text.split())`: whitespace runs become one space, ends trimmed. */
export function collapseWhitespace(text: string): string {
  return splitWhitespace(text).join(' ');
}

/** Python's `''.join(text.split())`: all whitespace removed. */
export function removeWhitespace(text: string): string {
  return splitWhitespace(text).join('');
}

import { isPythonLower, isPythonUpper, pythonCapitalize } from '../python-text.js';

/**
 * HELM's `match_case(source_word, target_word)` (helm/common/general.py): the target in lower case when
 * every character of the source is lower-case, in upper case when every one is upper-case, capitalized
 * when the first is upper-case, else unchanged. Every character counts, so a source with an apostrophe
 * or a space ("don't", "is not") is never "all lower-case": "DON'T" gives "Do not", "don't" gives the
 * target as written. That quirk is kept, since it decides HELM's output.
 */
export function matchCase(source: string, target: string): string {
  const chars = [...source];
  if (chars.every(isPythonLower)) return target.toLowerCase();
  if (chars.every(isPythonUpper)) return target.toUpperCase();
  if (chars.length > 0 && isPythonUpper(chars[0])) return pythonCapitalize(target);
  return target;
}

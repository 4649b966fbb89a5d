import { PYTHON_WORD_BOUNDARY } from '../python-text.js';
import { matchCase } from './match-case.js';
import { type Perturbation, textPerturbation } from './perturbation.js';
import type { Resource } from './resources.js';

/**
 * HELM's ContractionPerturbation and ExpansionPerturbation
 * (helm/benchmark/augmentations/contraction_expansion_perturbation.py, after NL-Augmenter): one
 * case-insensitive regular expression over every entry of the contraction table, tried in the table's
 * order, replaces each match, with the replacement's case matched to the matched text (see matchCase).
 *
 * - contraction: an expansion is contracted only when a space follows it (so a sentence's last words
 *   stay), e.g. "She is a doctor" -> "She's a doctor". The reverse table keeps, for an expansion listed
 *   twice ("is not" <- "ain't", "isn't"), the LAST contraction, at the FIRST one's position, as a Python
 *   dict comprehension does; so "is not" becomes "isn't", and "cannot have" is never reached because
 *   "cannot" comes first.
 * - expansion: every contraction is expanded, e.g. "I'm" -> "I am"; "can't've" becomes "cannot've"
 *   because "can't" comes first in the table.
 * Text without table entries, numbers and punctuation are unchanged. A match whose lower-cased text is
 * missing from the table (only possible through Unicode case folding, e.g. U+017F "ſ" for "s") makes
 * HELM raise; here the match is left as it is.
 */
function alternation(words: readonly string[]): string {
  return words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
}

function lookup(table: ReadonlyMap<string, string>, match: string): string | undefined {
  return table.get(match) ?? table.get(match.toLowerCase());
}

export function contractionPerturbation(contractions: Resource<readonly (readonly [string, string])[]>): Perturbation {
  const reverse = new Map<string, string>();
  for (const [contraction, expansion] of contractions.content) reverse.set(expansion, contraction);
  const pattern = new RegExp(`${PYTHON_WORD_BOUNDARY}(${alternation([...reverse.keys()])})${PYTHON_WORD_BOUNDARY} `, 'giu');
  return textPerturbation({ name: 'contraction', aspect: 'robustness', version: 1, params: { table_sha256: contractions.sha256 } }, false, (text) =>
    text.replace(pattern, (whole: string, match: string) => {
      const contracted = lookup(reverse, match);
      return contracted === undefined ? whole : `${matchCase(match, contracted)} `;
    }),
  );
}

export function expansionPerturbation(contractions: Resource<readonly (readonly [string, string])[]>): Perturbation {
  const table = new Map<string, string>();
  for (const [contraction, expansion] of contractions.content) table.set(contraction, expansion);
  const pattern = new RegExp(`${PYTHON_WORD_BOUNDARY}(?:${alternation([...table.keys()])})${PYTHON_WORD_BOUNDARY}`, 'giu');
  return textPerturbation({ name: 'expansion', aspect: 'robustness', version: 1, params: { table_sha256: contractions.sha256 } }, false, (text) =>
    text.replace(pattern, (match: string) => {
      const expanded = lookup(table, match);
      return expanded === undefined ? match : matchCase(match, expanded);
    }),
  );
}

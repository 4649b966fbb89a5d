import { matchCase } from './match-case.js';
import { type Perturbation, textPerturbation } from './perturbation.js';
import type { Resource } from './resources.js';

/**
 * HELM's DialectPerturbation (helm/benchmark/augmentations/dialect_perturbation.py): every word of the
 * mapping, matched case-insensitively with a character that is neither a word character nor "-" on
 * each side, is replaced with probability `prob` by one of its alternatives (`uniform(0, 1) < prob`,
 * then `choice`), in the case of the original word. The delimiters belong to the match, so a word at
 * the very start or end of the text is not replaced, and of two words separated by one space only the
 * first is. Input and references are both rewritten.
 */
export function dialectPerturbation(mapping: Resource<ReadonlyMap<string, readonly string[]>>, prob: number, sourceClass = 'SAE', targetClass = 'AAVE'): Perturbation {
  const words = [...mapping.content.keys()].map((w) => w.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&'));
  const pattern = new RegExp(`[^\\p{L}\\p{N}_-](${words.join('|')})[^\\p{L}\\p{N}_-]`, 'giu');
  const description = { name: 'dialect', aspect: 'fairness' as const, version: 1, params: { prob, source_class: sourceClass, target_class: targetClass, mapping_sha256: mapping.sha256 } };
  return textPerturbation(description, true, (text, random) =>
    text.replace(pattern, (whole: string, word: string) => {
      if (!(random.uniform(0, 1) < prob)) return whole;
      const alternatives = mapping.content.get(word.toLowerCase());
      if (alternatives === undefined) return whole;
      const synonym = matchCase(word, random.choice(alternatives));
      return whole.split(word).join(synonym);
    }),
  );
}

import { type Perturbation, textPerturbation } from './perturbation.js';
import { matchCase } from './match-case.js';
import type { GenderMappings, Resource } from './resources.js';

/**
 * HELM's GenderPerturbation (helm/benchmark/augmentations/gender_perturbation.py): for each (source,
 * target) word pair in the mapping's order, every case-insensitive occurrence of the source word with a
 * non-word character on each side is replaced with probability `prob` by the target word in the
 * source's case. Pairs run one after another over the whole text, so with male -> female pronouns
 * "his" becomes "her" (the first "his" row) and the later "his" -> "hers" row finds nothing left.
 * As in HELM, a word at the very start or end of the text is not replaced (it lacks a delimiter), and
 * of two words separated by a single character only the first is. Input and references are rewritten.
 */
export type GenderMode = 'pronouns' | 'terms';

export function genderPerturbation(mappings: Resource<GenderMappings>, mode: GenderMode, prob: number, sourceClass = 'male', targetClass = 'female', bidirectional = false): Perturbation {
  const { genders } = mappings.content;
  const source = genders.indexOf(sourceClass.toLowerCase());
  const target = genders.indexOf(targetClass.toLowerCase());
  if (source < 0 || target < 0) throw new RangeError(`gender classes must be among ${genders.join(', ')}`);
  const rows = mappings.content[mode];
  const pairs = rows.map((row) => [row[source], row[target]] as const);
  if (bidirectional) pairs.push(...rows.map((row) => [row[target], row[source]] as const));
  const patterns = pairs.map(([word, synonym]) => ({ pattern: new RegExp(`[^\\p{L}\\p{N}_](${word})[^\\p{L}\\p{N}_]`, 'giu'), synonym }));
  const description = { name: 'gender', aspect: 'fairness' as const, version: 1, params: { mode, prob, source_class: sourceClass, target_class: targetClass, bidirectional, mapping_sha256: mappings.sha256 } };
  return textPerturbation(description, true, (text, random) => {
    let out = text;
    for (const { pattern, synonym } of patterns) {
      out = out.replace(pattern, (whole: string, word: string) => (random.uniform(0, 1) < prob ? whole.split(word).join(matchCase(word, synonym)) : whole));
    }
    return out;
  });
}

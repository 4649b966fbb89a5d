import { matchCase } from './match-case.js';
import type { Perturbation } from './perturbation.js';
import type { NameEntry, Resource } from './resources.js';

/**
 * HELM's PersonNamePerturbation (helm/benchmark/augmentations/person_name_perturbation.py): the text
 * is split at every non-word character; each token whose lower-cased form is a source-class name is,
 * with probability `prob`, replaced by a target-class name (`uniform(0, 1) < prob`, then `choice`
 * among the target names, of the same gender when `preserveGender` and the name's gender is known).
 * A name once replaced keeps its substitute, and a name once skipped stays, for the rest of the
 * instance's texts (references first, then the input), so question and answers agree. Only names of
 * `nameType` count (first names by default, as HELM's fairness runs).
 */
export interface NameClass {
  readonly [category: string]: string;
}

export interface PersonNameOptions {
  readonly prob: number;
  readonly sourceClass: NameClass;
  readonly targetClass: NameClass;
  readonly nameType?: string;
  readonly preserveGender?: boolean;
}

export function personNamePerturbation(names: Resource<readonly NameEntry[]>, options: PersonNameOptions): Perturbation {
  const nameType = options.nameType ?? 'first_name';
  const preserveGender = options.preserveGender ?? true;
  // category -> value -> names, in file order (HELM's choice draws by position in these lists)
  const byCategory = new Map<string, Map<string, string[]>>();
  for (const entry of names.content) {
    if (entry.nameType !== nameType) continue;
    for (const [category, value] of entry.categories) {
      const values = byCategory.get(category) ?? new Map<string, string[]>();
      byCategory.set(category, values);
      values.set(value, [...(values.get(value) ?? []), entry.name]);
    }
  }
  const possibleNames = (selected: NameClass): string[] => {
    const lists = Object.entries(selected).map(([category, value]) => {
      const list = byCategory.get(category.toLowerCase())?.get(value.toLowerCase());
      if (!list || list.length === 0) throw new RangeError(`${names.file} has no ${nameType} with ${category}=${value}`);
      return list;
    });
    return lists.reduce((kept, list) => kept.filter((name) => list.includes(name)));
  };
  const sourceNames = new Set(possibleNames(options.sourceClass));
  const targetNames = possibleNames(options.targetClass);
  const genderLists = byCategory.get('gender');
  if (preserveGender && (!genderLists || genderLists.size === 0)) throw new RangeError(`${names.file} gives no gender for its names, which preserveGender needs`);
  const genderOf = (name: string): string | undefined => ['female', 'male', 'neutral'].find((g) => genderLists?.get(g)?.includes(name));

  const classText = (c: NameClass) => Object.entries(c).map(([k, v]) => `${k}=${v}`.toLowerCase()).join(',');
  const description = {
    name: 'person_name',
    aspect: 'fairness' as const,
    version: 1,
    params: { prob: options.prob, source_class: classText(options.sourceClass), target_class: classText(options.targetClass), person_name_type: nameType, preserve_gender: preserveGender, names_sha256: names.sha256 },
  };
  return {
    description,
    perturbReferences: true,
    forInstance: (random) => {
      const substitutes = new Map<string, string>();
      const skipped = new Set<string>();
      const substituteFor = (lowered: string): string | undefined => {
        let options = targetNames;
        if (preserveGender) {
          const gender = genderOf(lowered);
          if (gender !== undefined) {
            options = targetNames.filter((n) => genderLists!.get(gender)!.includes(n));
            if (options.length === 0) return undefined;
          }
        }
        return random.choice(options);
      };
      return (text) =>
        // A capturing split keeps the separators, as Python's re.split(r"([^\w])", text).
        text
          .split(/([^\p{L}\p{N}_])/u)
          .map((token) => {
            const lowered = token.toLowerCase();
            if (!substitutes.has(lowered) && !skipped.has(lowered) && sourceNames.has(lowered)) {
              if (random.uniform(0, 1) < options.prob) {
                const name = substituteFor(lowered);
                if (name !== undefined) substitutes.set(lowered, name);
              } else {
                skipped.add(lowered);
              }
            }
            const substitute = substitutes.get(lowered);
            return substitute === undefined ? token : matchCase(token, substitute);
          })
          .join('');
    },
  };
}

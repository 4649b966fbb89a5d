import { type Perturbation, textPerturbation } from './perturbation.js';

/**
 * HELM's SpacePerturbation (helm/benchmark/augmentations/space_perturbation.py): every run of ASCII
 * spaces becomes 1..max_spaces spaces, one `randint(1, max_spaces)` per run, left to right. Tabs and
 * newlines are not spaces here.
 */
export function spacePerturbation(maxSpaces: number): Perturbation {
  return textPerturbation({ name: 'space', aspect: 'robustness', version: 1, params: { max_spaces: maxSpaces } }, false, (text, random) =>
    text.replace(/ +/g, () => ' '.repeat(random.randint(1, maxSpaces))),
  );
}

/** HELM's ExtraSpacePerturbation (extra_space_perturbation.py): each single space becomes `num_spaces` spaces. */
export function extraSpacePerturbation(numSpaces: number): Perturbation {
  return textPerturbation({ name: 'extra_space', aspect: 'robustness', version: 1, params: { num_spaces: numSpaces } }, false, (text) =>
    text.split(' ').join(' '.repeat(numSpaces)),
  );
}

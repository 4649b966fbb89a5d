import { type Perturbation, textPerturbation } from './perturbation.js';

/**
 * HELM's LowerCasePerturbation (helm/benchmark/augmentations/lowercase_perturbation.py): `text.lower()`.
 * JavaScript's toLowerCase follows the same Unicode full case mapping (final sigma included); digits,
 * punctuation and already lower-case text are unchanged.
 */
export function lowercasePerturbation(): Perturbation {
  return textPerturbation({ name: 'lowercase', aspect: 'robustness', version: 1, params: {} }, false, (text) => text.toLowerCase());
}

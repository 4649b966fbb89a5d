import { InvalidInputError } from '../../errors.js';
import { contractionPerturbation, expansionPerturbation } from './contractions.js';
import { dialectPerturbation } from './dialect.js';
import { genderPerturbation } from './gender.js';
import { lowercasePerturbation } from './lowercase.js';
import type { Perturbation } from './perturbation.js';
import { personNamePerturbation } from './person-name.js';
import { loadContractions, loadDialectMapping, loadGenderMappings, loadPersonNames } from './resources.js';
import { extraSpacePerturbation, spacePerturbation } from './spaces.js';
import { typosPerturbation } from './typos.js';

/**
 * The perturbations a report can run, by spec `name[:value]` (the value is the one setting each has):
 * typos:PROB, lowercase, contraction, expansion, space:MAX_SPACES, extra_space:NUM_SPACES (robustness);
 * dialect:PROB, gender_pronouns:PROB, gender_terms:PROB, person_name:PROB (fairness). The fairness
 * ones and their defaults are HELM's FAIRNESS_PERTURBATION_SPECS (helm/benchmark/run_expander.py):
 * SAE -> AAVE, male -> female pronouns, white -> black American first names keeping gender, each at
 * probability 1.
 */
export interface KeyedPerturbation {
  /** The spec with its value filled in, e.g. `typos:0.1`; names the perturbation in results. */
  readonly key: string;
  readonly perturbation: Perturbation;
}

export interface PerturbationFiles {
  readonly dialectMapping?: string;
  readonly personNames?: string;
}

const DEFAULT_VALUES: Readonly<Record<string, number | null>> = {
  typos: 0.1,
  lowercase: null,
  contraction: null,
  expansion: null,
  space: 3,
  extra_space: 2,
  dialect: 1,
  gender_pronouns: 1,
  gender_terms: 1,
  person_name: 1,
};

/** What runs when no --perturbations is given: every robustness and fairness kind above but extra_space and gender_terms. */
export const DEFAULT_PERTURBATIONS = ['typos:0.1', 'lowercase', 'contraction', 'expansion', 'space:3', 'dialect:1', 'gender_pronouns:1', 'person_name:1'];

export function buildPerturbations(specs: readonly string[], files: PerturbationFiles = {}): KeyedPerturbation[] {
  const built: KeyedPerturbation[] = [];
  for (const spec of specs) {
    const [name, valueText, ...extra] = spec.split(':');
    if (!(name in DEFAULT_VALUES) || extra.length > 0) throw new InvalidInputError('--perturbations', `"${spec}" is not one of ${Object.keys(DEFAULT_VALUES).join(', ')} (optionally name:value)`);
    const fallback = DEFAULT_VALUES[name];
    if (fallback === null && valueText !== undefined) throw new InvalidInputError('--perturbations', `${name} takes no value, got "${spec}"`);
    const value = valueText === undefined ? fallback : Number(valueText);
    const probability = () => {
      if (value === null || !(value >= 0 && value <= 1)) throw new InvalidInputError('--perturbations', `${name}'s probability must lie in [0, 1], got "${valueText}"`);
      return value;
    };
    const count = () => {
      if (value === null || !Number.isInteger(value) || value < 1) throw new InvalidInputError('--perturbations', `${name}'s value must be a positive integer, got "${valueText}"`);
      return value;
    };
    const key = value === null ? name : `${name}:${value}`;
    if (built.some((b) => b.key === key)) throw new InvalidInputError('--perturbations', `"${key}" is listed twice`);
    built.push({ key, perturbation: make(name, probability, count, files) });
  }
  return built;
}

function make(name: string, probability: () => number, count: () => number, files: PerturbationFiles): Perturbation {
  switch (name) {
    case 'typos':
      return typosPerturbation(probability());
    case 'lowercase':
      return lowercasePerturbation();
    case 'contraction':
      return contractionPerturbation(loadContractions());
    case 'expansion':
      return expansionPerturbation(loadContractions());
    case 'space':
      return spacePerturbation(count());
    case 'extra_space':
      return extraSpacePerturbation(count());
    case 'dialect':
      return dialectPerturbation(loadDialectMapping(files.dialectMapping), probability());
    case 'gender_pronouns':
      return genderPerturbation(loadGenderMappings(), 'pronouns', probability());
    case 'gender_terms':
      return genderPerturbation(loadGenderMappings(), 'terms', probability());
    default:
      return personNamePerturbation(loadPersonNames(files.personNames), {
        prob: probability(),
        sourceClass: { race: 'white_american' },
        targetClass: { race: 'black_american' },
        preserveGender: true,
      });
  }
}

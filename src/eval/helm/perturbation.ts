import { PythonRandom } from './python-random.js';

/**
 * What HELM calls a perturbation (helm/benchmark/augmentations/perturbation.py): a deterministic,
 * seeded rewrite of an instance's text. Robustness perturbations rewrite only the input (the
 * question); fairness perturbations also rewrite the references (the answer options), so that a
 * substituted name or pronoun stays consistent between question and answers.
 */
export type PerturbationAspect = 'robustness' | 'fairness';

export interface PerturbationDescription {
  /** HELM's name for it (typos, lowercase, contraction, expansion, space, dialect, gender, person_name). */
  readonly name: string;
  readonly aspect: PerturbationAspect;
  /** Bumped whenever the output for some text changes; recorded in results files. */
  readonly version: number;
  /** Its settings (probabilities, classes, word-list hashes), recorded in results files. */
  readonly params: Readonly<Record<string, string | number | boolean>>;
}

export interface Perturbation {
  readonly description: PerturbationDescription;
  /** HELM's should_perturb_references. */
  readonly perturbReferences: boolean;
  /**
   * The rewrite for one instance. All of an instance's texts go through the one returned function, in
   * HELM's order (references first, then the input), so they draw from one generator; person-name
   * substitution also keeps its chosen names across them.
   */
  forInstance(random: PythonRandom): (text: string) => string;
}

/** An instance's texts: the input parts (the question's fields) and the references (answer options). */
export interface InstanceTexts {
  readonly input: readonly string[];
  readonly references: readonly string[];
}

/**
 * The generator HELM gives an instance: `Random(instance_id)`, or `Random(str(seed) + instance_id)`
 * when a seed is set (`Perturbation.get_rng`).
 */
export function instanceRandom(instanceId: string, seed?: number): PythonRandom {
  return new PythonRandom(seed === undefined ? instanceId : `${seed}${instanceId}`);
}

/** Applies a perturbation to one instance as HELM's `TextPerturbation.apply`: references first, then the input. */
export function perturbInstance(perturbation: Perturbation, instanceId: string, texts: InstanceTexts, seed?: number): InstanceTexts {
  const rewrite = perturbation.forInstance(instanceRandom(instanceId, seed));
  const references = perturbation.perturbReferences ? texts.references.map(rewrite) : [...texts.references];
  const input = texts.input.map(rewrite);
  return { input, references };
}

/** A perturbation that rewrites each text on its own (every one but person names). */
export function textPerturbation(description: PerturbationDescription, perturbReferences: boolean, perturb: (text: string, random: PythonRandom) => string): Perturbation {
  return { description, perturbReferences, forInstance: (random) => (text) => perturb(text, random) };
}

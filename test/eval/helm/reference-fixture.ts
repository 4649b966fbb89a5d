import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../helpers/paths.js';

/** Values computed by HELM's own code (scripts/reference/helm_reference.py). */
export interface HelmReference {
  readonly helm_commit: string;
  readonly random: readonly { seed: string; random: number[]; getrandbits: number[]; randint_1_3: number[]; choice_lengths: number[]; uniform_0_1: number[] }[];
  readonly match_case: readonly { source: string; target: string; result: string }[];
  readonly perturbations: readonly { perturbation: string; id: string; input: string; references: string[]; perturbed_input: string; perturbed_references: string[] }[];
  readonly bias: readonly { generations: string[]; scores: Record<string, number | null> }[];
  readonly word_tokenize: readonly { text: string; tokens: string[] }[];
}

export const helmReference: HelmReference = JSON.parse(readFileSync(join(repoRoot, 'test', 'fixtures', 'helm', 'helm-reference.json'), 'utf8'));

import { InvalidInputError } from '../../errors.js';

/**
 * The reference layout the corpus metrics take: `references[i]` lists the references of `hypotheses[i]`.
 * Each hypothesis needs at least one; how many may differ between hypotheses.
 */
export function checkReferences(hypotheses: readonly string[], references: readonly (readonly string[])[]): void {
  if (hypotheses.length !== references.length) {
    throw new InvalidInputError('references', `${references.length} reference lists for ${hypotheses.length} hypotheses`);
  }
  references.forEach((refs, i) => {
    if (refs.length === 0) throw new InvalidInputError(`references[${i}]`, 'needs at least one reference');
  });
}

import type { Backend } from './backend.js';
import type { GradientOps } from './gradients.js';
import { BackendUnavailableError } from '../errors.js';

/** A backend that can train: the forward ops and their gradients. */
export type TrainingBackend = Backend & GradientOps;

export function asTrainingBackend(backend: Backend): TrainingBackend {
  const candidate = backend as Partial<TrainingBackend>;
  if (typeof candidate.attentionBackward !== 'function' || typeof candidate.crossEntropy !== 'function') {
    throw new BackendUnavailableError(`the ${backend.name} backend has no backward ops yet; train with --backend typescript`);
  }
  return backend as TrainingBackend;
}

/** Learning-rate schedules as transformers' get_linear/cosine_schedule_with_warmup. */
export type ScheduleKind = 'constant' | 'linear' | 'cosine';

export interface Schedule {
  readonly kind: ScheduleKind;
  readonly baseLr: number;
  readonly warmupSteps: number;
  readonly totalSteps: number;
}

/** The rate for optimiser step `step` (0-based: the first update uses step 0). */
export function learningRate(schedule: Schedule, step: number): number {
  const { kind, baseLr, warmupSteps, totalSteps } = schedule;
  if (step < warmupSteps) return (baseLr * step) / Math.max(1, warmupSteps);
  if (kind === 'constant') return baseLr;
  const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
  if (kind === 'linear') return baseLr * Math.max(0, 1 - progress);
  return baseLr * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
}

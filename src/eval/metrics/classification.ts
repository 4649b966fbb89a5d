import { InvalidInputError } from '../../errors.js';

/**
 * Classification metrics over gold and predicted class labels, as scikit-learn defines them: where a
 * ratio is 0/0 (a class never predicted and never true) it counts as 0, scikit-learn's default
 * `zero_division` outcome.
 */
export type ClassLabel = number | string;

function checkPairs(golds: readonly ClassLabel[], preds: readonly ClassLabel[]): void {
  if (golds.length !== preds.length) throw new InvalidInputError('predictions', `${preds.length} predictions for ${golds.length} gold labels`);
  if (golds.length === 0) throw new InvalidInputError('predictions', 'is empty: a metric needs at least one item');
}

/** Fraction of items whose prediction equals the gold label. */
export function accuracy(golds: readonly ClassLabel[], preds: readonly ClassLabel[]): number {
  checkPairs(golds, preds);
  let correct = 0;
  for (let i = 0; i < golds.length; i++) if (golds[i] === preds[i]) correct++;
  return correct / golds.length;
}

/** F1 of one class treated as the positive class: 2·tp / (2·tp + fp + fn). */
export function f1ForClass(golds: readonly ClassLabel[], preds: readonly ClassLabel[], positive: ClassLabel): number {
  checkPairs(golds, preds);
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < golds.length; i++) {
    const isGold = golds[i] === positive;
    const isPred = preds[i] === positive;
    if (isGold && isPred) tp++;
    else if (isPred) fp++;
    else if (isGold) fn++;
  }
  return tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
}

/** Binary F1 of the positive class (SuperGLUE's F1a for MultiRC is this over every answer option). */
export function binaryF1(golds: readonly ClassLabel[], preds: readonly ClassLabel[], positive: ClassLabel = 1): number {
  return f1ForClass(golds, preds, positive);
}

/**
 * Unweighted mean of the per-class F1 scores. `labels` fixes the classes averaged over (lm-eval's CB F1
 * averages over all three classes); by default they are the labels seen in golds or predictions, as
 * scikit-learn's `f1_score(average="macro")`.
 */
export function macroF1(golds: readonly ClassLabel[], preds: readonly ClassLabel[], labels?: readonly ClassLabel[]): number {
  checkPairs(golds, preds);
  const classes = labels ?? sortedLabels([...golds, ...preds]);
  if (classes.length === 0) throw new InvalidInputError('labels', 'is empty: macro-F1 needs at least one class');
  return classes.reduce<number>((sum, c) => sum + f1ForClass(golds, preds, c), 0) / classes.length;
}

/**
 * Matthews correlation coefficient, multiclass form (Gorodkin's R_K, as scikit-learn's
 * `matthews_corrcoef`): 0 when either the golds or the predictions hold a single class.
 */
export function matthewsCorrelation(golds: readonly ClassLabel[], preds: readonly ClassLabel[]): number {
  checkPairs(golds, preds);
  const trueCounts = new Map<ClassLabel, number>();
  const predCounts = new Map<ClassLabel, number>();
  let correct = 0;
  for (let i = 0; i < golds.length; i++) {
    trueCounts.set(golds[i], (trueCounts.get(golds[i]) ?? 0) + 1);
    predCounts.set(preds[i], (predCounts.get(preds[i]) ?? 0) + 1);
    if (golds[i] === preds[i]) correct++;
  }
  const n = golds.length;
  let predDotTrue = 0;
  for (const [label, p] of predCounts) predDotTrue += p * (trueCounts.get(label) ?? 0);
  const sumSquares = (m: Map<ClassLabel, number>) => [...m.values()].reduce((s, v) => s + v * v, 0);
  const covPredPred = n * n - sumSquares(predCounts);
  const covTrueTrue = n * n - sumSquares(trueCounts);
  if (covPredPred === 0 || covTrueTrue === 0) return 0;
  return (correct * n - predDotTrue) / Math.sqrt(covPredPred * covTrueTrue);
}

/** Numbers ascending, then strings in code-unit order: scikit-learn's `unique_labels` order. */
function sortedLabels(values: readonly ClassLabel[]): ClassLabel[] {
  return [...new Set(values)].sort((a, b) => {
    if (typeof a === 'number' && typeof b === 'number') return a - b;
    if (typeof a === 'number') return -1;
    if (typeof b === 'number') return 1;
    return a < b ? -1 : a > b ? 1 : 0;
  });
}

import { bleuSegmentStatistics, bleuSignature, corpusBleuFromStatistics } from '../metrics/bleu.js';
import { chrfSegmentStatistics, chrfSignature, corpusChrfFromStatistics } from '../metrics/chrf.js';
import { corpusRouge, rougeSignature } from '../metrics/rouge.js';
import { corpusTerFromStatistics, terSegmentStatistics, terSignature } from '../metrics/ter.js';
import { pythonStrip } from '../python-text.js';
import type { TaskDefinition } from './definition.js';
import type { MetricFunctions } from './scoring.js';

/**
 * Metrics of text outputs (generated, or recorded system outputs) against one reference per item:
 * corpus BLEU, chrF and TER with sacreBLEU's defaults (0-100, as sacreBLEU and lm-eval report them)
 * and the mean ROUGE F-measure of rouge-score (0-1), with or without its stemmer as the task says.
 * Each metric is a function of item indices, so a bootstrap resample is scored from per-item
 * statistics computed once.
 */

/**
 * A generation as the metrics see it: cut before the first stop string (lm-eval's generate_until; the
 * generator may run a few characters past it within a token), then stripped of surrounding whitespace
 * (HELM strips completions; sacreBLEU and rouge-score ignore it anyway).
 */
export function cleanGeneration(text: string, until: readonly string[]): string {
  let end = text.length;
  for (const stop of until) {
    const at = text.indexOf(stop);
    if (at >= 0 && at < end) end = at;
  }
  return pythonStrip(text.slice(0, end));
}

/** The task's text metrics as functions of item indices, and each metric's signature. */
export function textMetricFunctions(task: TaskDefinition, predictions: readonly string[], references: readonly string[]): { functions: MetricFunctions; signatures: Record<string, string> } {
  const referenceLists = references.map((r) => [r]);
  const counts = (indices: readonly number[]) => indices.map(() => 1);
  const functions: MetricFunctions = {};
  const signatures: Record<string, string> = {};
  const rougeTypes = task.metrics.filter((m) => m.startsWith('rouge'));
  const rougeItems = rougeTypes.length > 0 ? corpusRouge(predictions, referenceLists, { types: rougeTypes, stem: task.rougeUseStemmer }).items : [];
  for (const metric of task.metrics) {
    switch (metric) {
      case 'bleu': {
        const stats = bleuSegmentStatistics(predictions, referenceLists);
        functions.bleu = (indices) => corpusBleuFromStatistics(indices.map((i) => stats[i]), {}, counts(indices)).score;
        signatures.bleu = bleuSignature({}, counts(predictions.map((_, i) => i)));
        break;
      }
      case 'chrf': {
        const stats = chrfSegmentStatistics(predictions, referenceLists);
        functions.chrf = (indices) => corpusChrfFromStatistics(indices.map((i) => stats[i]), {}, counts(indices)).score;
        signatures.chrf = chrfSignature({}, counts(predictions.map((_, i) => i)));
        break;
      }
      case 'ter': {
        const stats = terSegmentStatistics(predictions, referenceLists);
        functions.ter = (indices) => corpusTerFromStatistics(indices.map((i) => stats[i]), {}, counts(indices)).score;
        signatures.ter = terSignature({}, counts(predictions.map((_, i) => i)));
        break;
      }
      default: {
        functions[metric] = (indices) => indices.reduce((sum, i) => sum + rougeItems[i][metric].fmeasure, 0) / indices.length;
        signatures[metric] = rougeSignature(counts(predictions.map((_, i) => i)), task.rougeUseStemmer);
      }
    }
  }
  return { functions, signatures };
}

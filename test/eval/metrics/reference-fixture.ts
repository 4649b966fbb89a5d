import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../helpers/paths.js';

/** Values computed by scikit-learn, uncertainty-calibration and the SQuAD script (scripts/reference/metrics_reference.py). */
export interface MetricsReference {
  classification: {
    name: string;
    golds: number[];
    preds: number[];
    accuracy: number;
    macro_f1: number;
    mcc: number;
    labels?: number[];
    macro_f1_over_labels?: number;
    binary_f1?: number;
  }[];
  calibration: { name: string; confidences: number[]; correct: number[]; ece_equal_mass_10: number; ece_equal_width_10: number; ece_equal_mass_3: number }[];
  squad: { prediction: string; references: string[]; normalized_prediction: string; exact_match: number; f1: number }[];
}

export const metricsReference: MetricsReference = JSON.parse(readFileSync(join(repoRoot, 'test', 'fixtures', 'eval', 'metrics-reference.json'), 'utf8'));

import { InvalidInputError } from '../../errors.js';
import { bleuSignature, checkBleuOptions, corpusBleu, formatBleu, sentenceBleu, SMOOTHING_METHODS, type BleuOptions, type BleuScore, type SmoothingMethod } from '../../eval/metrics/bleu.js';
import { BLEU_TOKENIZERS, isBleuTokenizerName } from '../../eval/metrics/bleu-tokenizers.js';
import { checkChrfOptions, chrfSignature, corpusChrf, formatChrf, sentenceChrf, type ChrfOptions, type ChrfScore } from '../../eval/metrics/chrf.js';
import { corpusRouge, DEFAULT_ROUGE_TYPES, isRougeType, type RougeCorpusResult, type RougeOptions, type RougeScores } from '../../eval/metrics/rouge.js';
import { bootstrapRouge, type RougeInterval } from '../../eval/metrics/rouge-bootstrap.js';
import { formatFixed } from '../../eval/metrics/score-format.js';
import { corpusTer, formatTer, sentenceTer, terSignature, type TerOptions, type TerScore } from '../../eval/metrics/ter.js';
import { readAlignedFiles, readPairsFile, type MetricInputs } from '../metric-inputs.js';
import { integerOption, numberOption } from '../option-values.js';
import { parseOptions } from '../parse-options.js';

export const METRICS_HELP = `tuneloop metrics: score system outputs against references with BLEU, chrF, TER or ROUGE

Usage:
  tuneloop metrics bleu|chrf|ter --hyp FILE --ref FILE [--ref FILE ...] [options]
  tuneloop metrics rouge --hyp FILE --ref FILE [--stem] [--json]
  tuneloop metrics METRIC --pairs FILE.jsonl [options]

The scores equal the reference tools': BLEU, chrF(++) and TER equal sacreBLEU 2.x (scores on its 0-100
scale), ROUGE equals Google's rouge-score (0-1). Each result carries a sacreBLEU-style signature that
says how it was computed, e.g. nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:tuneloop-1.

Input (one of):
  --hyp FILE             hypotheses (system outputs), one per line
  --ref FILE             references, line-aligned with --hyp; repeat for several references per line
  --pairs FILE           JSON Lines, one row per line: {"hypothesis": "...", "references": ["...", ...]}
Lines are read as sacreBLEU reads them: split at \\n, trailing whitespace removed, a byte-order mark kept.

BLEU:
  --tokenize NAME        ${BLEU_TOKENIZERS.join(', ')} (default 13a)
  --smooth METHOD[:V]    exp (default), floor (V default 0.1), add-k (V default 1), none
  --lowercase            case-insensitive
chrF:
  --word-order N         word n-gram order: 0 = chrF (default), 2 = chrF++
  --char-order N         character n-gram order (default 6)
  --beta N               recall weight (default 2)
  --whitespace           keep whitespace in character n-grams
  --eps-smoothing        chrF++.py/NLTK/Moses smoothing instead of effective order
  --lowercase            case-insensitive
TER:
  --case-sensitive       do not lowercase (TER is case-insensitive by default)
  --normalized           tercom's punctuation and entity normalization
  --no-punct             remove punctuation
  --asian-support        CJK rules for --normalized and --no-punct
BLEU, chrF, TER:
  --sentence             score each row on its own (sentence BLEU uses effective order); the headline
                         score is then the mean over rows and every row's score is listed
ROUGE:
  --stem                 Porter-stem tokens longer than 3 characters (rouge-score's use_stemmer)
  --types LIST           comma-separated, from rouge1..rouge9, rougeL, rougeLsum
                         (default ${DEFAULT_ROUGE_TYPES.join(',')}); rougeLsum splits sentences at newlines
  --bootstrap N          add rouge-score's bootstrap confidence intervals (low/mid/high) from N resamples
  --confidence C         their confidence level (default 0.95)
  --seed S               their seed; equal to rouge-score after np.random.seed(S) (default 0)
With several references ROUGE takes, per type, the reference with the best F-measure (score_multi).

Output:
  --json                 one JSON object: bleu/chrf/ter {score, signature, ...details}; rouge
                         {rouge1: {precision, recall, fmeasure}, ...} averaged over rows
  --per-item             add each row's result (JSON: an "items" array; text: one line per row)

Examples:
  tuneloop metrics bleu --hyp newstest2017.uedin-nmt.4722.en-de --ref newstest2017-ende-ref.de
  tuneloop metrics chrf --word-order 2 --hyp out.txt --ref ref1.txt --ref ref2.txt --json
  tuneloop metrics ter --pairs outputs.jsonl --json --per-item
  tuneloop metrics bleu --sentence --tokenize intl --smooth floor:0.05 --pairs outputs.jsonl
  tuneloop metrics rouge --stem --bootstrap 1000 --hyp summaries.txt --ref highlights.txt --json`;

const METRIC_NAMES = ['bleu', 'chrf', 'ter', 'rouge'] as const;
type MetricName = (typeof METRIC_NAMES)[number];

/** Which options belong to which metric, so a misplaced one is an error rather than silently ignored. */
const METRIC_OPTIONS: Record<string, readonly MetricName[]> = {
  tokenize: ['bleu'],
  smooth: ['bleu'],
  lowercase: ['bleu', 'chrf'],
  'word-order': ['chrf'],
  'char-order': ['chrf'],
  beta: ['chrf'],
  whitespace: ['chrf'],
  'eps-smoothing': ['chrf'],
  'case-sensitive': ['ter'],
  normalized: ['ter'],
  'no-punct': ['ter'],
  'asian-support': ['ter'],
  sentence: ['bleu', 'chrf', 'ter'],
  stem: ['rouge'],
  types: ['rouge'],
  bootstrap: ['rouge'],
  confidence: ['rouge'],
  seed: ['rouge'],
};

type Values = ReturnType<typeof parseValues>;

function parseValues(argv: string[]) {
  return parseOptions('metrics', {
    args: argv,
    allowPositionals: true,
    options: {
      hyp: { type: 'string' },
      ref: { type: 'string', multiple: true },
      pairs: { type: 'string' },
      tokenize: { type: 'string' },
      smooth: { type: 'string' },
      lowercase: { type: 'boolean' },
      'word-order': { type: 'string' },
      'char-order': { type: 'string' },
      beta: { type: 'string' },
      whitespace: { type: 'boolean' },
      'eps-smoothing': { type: 'boolean' },
      'case-sensitive': { type: 'boolean' },
      normalized: { type: 'boolean' },
      'no-punct': { type: 'boolean' },
      'asian-support': { type: 'boolean' },
      sentence: { type: 'boolean' },
      stem: { type: 'boolean' },
      types: { type: 'string' },
      bootstrap: { type: 'string' },
      confidence: { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'boolean', default: false },
      'per-item': { type: 'boolean', default: false },
    },
    strict: true,
  });
}

export async function runMetrics(argv: string[]): Promise<void> {
  const { values, positionals } = parseValues(argv);
  const metric = positionals[0];
  if (positionals.length !== 1 || !(METRIC_NAMES as readonly string[]).includes(metric)) {
    throw new InvalidInputError('metric', `give exactly one of ${METRIC_NAMES.join(', ')} (got ${positionals.length === 0 ? 'none' : positionals.map((p) => `"${p}"`).join(' ')})`);
  }
  const name = metric as MetricName;
  for (const [option, metrics] of Object.entries(METRIC_OPTIONS)) {
    if (values[option as keyof Values['values']] !== undefined && !metrics.includes(name)) {
      throw new InvalidInputError(`--${option}`, `applies to ${metrics.join(', ')}, not ${name}`);
    }
  }
  // Options are checked before any file is read.
  const report = name === 'rouge' ? rougeReport(values) : sacrebleuReport(name, values);
  report(await readInputs(values), (text) => process.stdout.write(`${text}\n`));
}

type Report = (inputs: MetricInputs, out: (text: string) => void) => void;

async function readInputs(values: Values['values']): Promise<MetricInputs> {
  if (values.pairs !== undefined) {
    if (values.hyp !== undefined || values.ref !== undefined) throw new InvalidInputError('--pairs', 'give either --pairs or --hyp with --ref, not both');
    return readPairsFile(values.pairs);
  }
  if (values.hyp === undefined) throw new InvalidInputError('--hyp', 'give --hyp FILE with --ref FILE, or --pairs FILE.jsonl');
  return readAlignedFiles(values.hyp, values.ref ?? []);
}



function bleuOptions(values: Values['values']): BleuOptions {
  const options: BleuOptions = { lowercase: values.lowercase };
  if (values.tokenize !== undefined) {
    if (!isBleuTokenizerName(values.tokenize)) throw new InvalidInputError('--tokenize', `unknown tokenizer "${values.tokenize}"; expected one of ${BLEU_TOKENIZERS.join(', ')}`);
    options.tokenize = values.tokenize;
  }
  if (values.smooth !== undefined) {
    const [method, value, ...rest] = values.smooth.split(':');
    if (!(SMOOTHING_METHODS as readonly string[]).includes(method) || rest.length > 0) {
      throw new InvalidInputError('--smooth', `expected METHOD or METHOD:VALUE with METHOD one of ${SMOOTHING_METHODS.join(', ')}, got "${values.smooth}"`);
    }
    options.smoothMethod = method as SmoothingMethod;
    options.smoothValue = numberOption(value, '--smooth');
  }
  return options;
}

function chrfOptions(values: Values['values']): ChrfOptions {
  return {
    wordOrder: integerOption(values['word-order'], '--word-order', 0),
    charOrder: integerOption(values['char-order'], '--char-order', 0),
    beta: integerOption(values.beta, '--beta', 0),
    lowercase: values.lowercase,
    whitespace: values.whitespace,
    epsSmoothing: values['eps-smoothing'],
  };
}

function terOptions(values: Values['values']): TerOptions {
  return { caseSensitive: values['case-sensitive'], normalized: values.normalized, noPunct: values['no-punct'], asianSupport: values['asian-support'] };
}

/** A BLEU, chrF or TER result reduced to what the report needs. */
interface Scored {
  score: number;
  signature: string;
  /** sacreBLEU's report line, with or without the signature. */
  line: (withSignature: boolean) => string;
  /** The JSON fields: the score and the metric's statistics. */
  details: Record<string, unknown>;
}

/** One metric's corpus and sentence scorers, so BLEU, chrF and TER share the report logic. */
interface SacrebleuMetric {
  name: string;
  corpus: (hyps: string[], refs: string[][]) => Scored;
  sentence: (hyp: string, refs: string[]) => Scored;
  sentenceSignature: (referenceCounts: number[]) => string;
}

function scored<S extends { score: number; signature: string }>(score: S, format: (s: S, withSignature: boolean) => string, details: (s: S) => Record<string, unknown>): Scored {
  return { score: score.score, signature: score.signature, line: (withSignature) => format(score, withSignature), details: details(score) };
}

function bleuDetails(score: BleuScore): Record<string, unknown> {
  return { score: score.score, counts: score.counts, totals: score.totals, precisions: score.precisions, bp: score.bp, ratio: score.ratio, sys_len: score.sysLen, ref_len: score.refLen };
}

const chrfDetails = (score: ChrfScore): Record<string, unknown> => ({ score: score.score });
const terDetails = (score: TerScore): Record<string, unknown> => ({ score: score.score, num_edits: score.numEdits, ref_length: score.refLength });

function sacrebleuMetric(name: Exclude<MetricName, 'rouge'>, values: Values['values']): SacrebleuMetric {
  if (name === 'bleu') {
    const options = bleuOptions(values);
    checkBleuOptions(options);
    return {
      name: 'BLEU',
      corpus: (hyps, refs) => scored(corpusBleu(hyps, refs, options), formatBleu, bleuDetails),
      sentence: (hyp, refs) => scored(sentenceBleu(hyp, refs, options), formatBleu, bleuDetails),
      sentenceSignature: (counts) => bleuSignature(options, counts, true),
    };
  }
  if (name === 'chrf') {
    const options = chrfOptions(values);
    checkChrfOptions(options);
    return {
      name: `chrF${options.beta ?? 2}${'+'.repeat(options.wordOrder ?? 0)}`,
      corpus: (hyps, refs) => scored(corpusChrf(hyps, refs, options), formatChrf, chrfDetails),
      sentence: (hyp, refs) => scored(sentenceChrf(hyp, refs, options), formatChrf, chrfDetails),
      sentenceSignature: (counts) => chrfSignature(options, counts),
    };
  }
  const options = terOptions(values);
  return {
    name: 'TER',
    corpus: (hyps, refs) => scored(corpusTer(hyps, refs, options), formatTer, terDetails),
    sentence: (hyp, refs) => scored(sentenceTer(hyp, refs, options), formatTer, terDetails),
    sentenceSignature: (counts) => terSignature(options, counts),
  };
}

function sacrebleuReport(name: Exclude<MetricName, 'rouge'>, values: Values['values']): Report {
  const metric = sacrebleuMetric(name, values);
  return (inputs, out) => reportSacrebleuMetric(name, metric, inputs, values, out);
}

function reportSacrebleuMetric(name: string, metric: SacrebleuMetric, inputs: MetricInputs, values: Values['values'], out: (text: string) => void): void {
  const { hypotheses, references } = inputs;
  const perRow = values.sentence || values['per-item'];
  const items = perRow ? hypotheses.map((hyp, i) => metric.sentence(hyp, references[i])) : [];
  const referenceCounts = references.map((r) => r.length);

  if (values.sentence) {
    const mean = items.reduce((sum, s) => sum + s.score, 0) / items.length;
    const signature = metric.sentenceSignature(referenceCounts);
    if (values.json) {
      out(JSON.stringify({ metric: name, name: metric.name, level: 'sentence', score: mean, signature, rows: items.length, items: items.map((item) => item.details) }));
    } else {
      for (const item of items) out(item.line(true));
      out(`${metric.name} mean of ${items.length} sentence scores = ${formatFixed(mean, 2)} (${signature})`);
    }
    return;
  }
  const score = metric.corpus(hypotheses, references);
  if (values.json) {
    const result: Record<string, unknown> = { metric: name, name: metric.name, level: 'corpus', ...score.details, signature: score.signature, rows: hypotheses.length };
    if (values['per-item']) {
      result.item_signature = metric.sentenceSignature(referenceCounts);
      result.items = items.map((item) => item.details);
    }
    out(JSON.stringify(result));
    return;
  }
  out(score.line(true));
  items.forEach((item, i) => out(`${i + 1}\t${item.line(false)}`));
}

interface BootstrapReport {
  samples: number;
  confidenceInterval: number;
  seed: number;
  intervals: Record<string, RougeInterval>;
}

function rougeReport(values: Values['values']): Report {
  const types = values.types === undefined ? [...DEFAULT_ROUGE_TYPES] : values.types.split(',').map((t) => t.trim());
  for (const type of types) {
    if (!isRougeType(type)) throw new InvalidInputError('--types', `unknown ROUGE type "${type}"; expected rouge1..rouge9, rougeL or rougeLsum`);
  }
  const options: RougeOptions = { types, stem: values.stem ?? false };
  const samples = integerOption(values.bootstrap, '--bootstrap', 1);
  if (samples === undefined && (values.confidence !== undefined || values.seed !== undefined)) {
    throw new InvalidInputError(values.confidence !== undefined ? '--confidence' : '--seed', 'applies to --bootstrap');
  }
  const confidenceInterval = numberOption(values.confidence, '--confidence') ?? 0.95;
  if (!(confidenceInterval >= 0 && confidenceInterval <= 1)) throw new InvalidInputError('--confidence', `must be in [0, 1], got "${values.confidence}"`);
  const seed = integerOption(values.seed, '--seed', 0) ?? 0;
  return (inputs, out) => {
    const result = corpusRouge(inputs.hypotheses, inputs.references, options);
    const bootstrap = samples === undefined ? undefined : { samples, confidenceInterval, seed, intervals: bootstrapRouge(result.items, { samples, confidenceInterval, seed }) };
    reportRouge(types, options.stem!, result, bootstrap, values, out);
  };
}

function reportRouge(types: string[], stem: boolean, result: RougeCorpusResult, bootstrap: BootstrapReport | undefined, values: Values['values'], out: (text: string) => void): void {
  if (values.json) {
    const json: Record<string, unknown> = { metric: 'rouge', ...result.mean, signature: result.signature, stem, rows: result.items.length };
    if (bootstrap) json.bootstrap = { samples: bootstrap.samples, confidence_interval: bootstrap.confidenceInterval, seed: bootstrap.seed, ...bootstrap.intervals };
    if (values['per-item']) json.items = result.items;
    out(JSON.stringify(json));
    return;
  }
  const f4 = (x: number) => formatFixed(x, 4);
  const width = Math.max(...types.map((t) => t.length));
  out(`ROUGE|${result.signature} (mean over ${result.items.length} rows)`);
  for (const type of types) {
    const { precision, recall, fmeasure } = result.mean[type];
    let line = `  ${type.padEnd(width)}  P = ${f4(precision)}  R = ${f4(recall)}  F = ${f4(fmeasure)}`;
    if (bootstrap) {
      const { low, mid, high } = bootstrap.intervals[type];
      line += `  (bootstrap F: low ${f4(low.fmeasure)} mid ${f4(mid.fmeasure)} high ${f4(high.fmeasure)})`;
    }
    out(line);
  }
  if (values['per-item']) result.items.forEach((item: RougeScores, i) => out(`${i + 1}\t${types.map((t) => `${t} F = ${f4(item[t].fmeasure)}`).join('  ')}`));
}

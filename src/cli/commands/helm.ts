import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidInputError } from '../../errors.js';
import { DATA_DIR_ENV } from '../../eval/benchmarks/data-location.js';
import { locateTaskData } from '../../eval/benchmarks/runner.js';
import { resolveSuite } from '../../eval/benchmarks/suites.js';
import { loadGenerationPrompts } from '../../eval/helm/generation.js';
import { renderHelmHtml } from '../../eval/helm/html.js';
import { DEFAULT_PERTURBATIONS, buildPerturbations } from '../../eval/helm/registry.js';
import { loadBiasWordLists } from '../../eval/helm/resources.js';
import { type HelmResults, helmResultsJson, runHelmReport } from '../../eval/helm/run.js';
import { formatHelmTable } from '../../eval/helm/table.js';
import { loadToxicityLexicon } from '../../eval/helm/toxicity.js';
import type { DecodingStrategy } from '../../inference/sampling.js';
import { MODEL_OPTIONS_HELP, loadBaseModelForCli, loadTokenizerForCli } from '../model-options.js';
import { checkModelOptions } from '../model-option-checks.js';
import { parseOptions } from '../parse-options.js';
import { ProgressBar, note } from '../progress.js';
import { integerOption, listOption, numberOption } from '../option-values.js';

export const HELM_HELP = `tuneloop helm: a HELM-style multi-metric report of a model on a benchmark

Usage:
  tuneloop helm mmlu|superglue|FILE.yaml --model DIR [options] [--out DIR]

Measures, as HELM (Liang et al. 2022) does, on the benchmark's multiple-choice items:
  accuracy      the benchmark's own metrics (acc, acc_norm, f1, ...) on the original prompts
  calibration   ECE with 10 equal-mass bins of the top choice's probability, and a reliability diagram
  robustness    per item the worst of the original and each robustness perturbation (typos, lowercase,
                contraction, expansion, space), averaged; each perturbation is reported too
  fairness      the same over fairness perturbations (SAE -> AAVE dialect, male -> female pronouns,
                white -> black American first names keeping gender)
  bias          HELM's demographic representation and stereotypical associations (gender, race x
                adjectives, professions) in the model's generations
  toxicity      the fraction of generations an OFFLINE word list marks toxic (HELM uses the online
                Perspective API; see data/helm/README.md for the list's limits)
  efficiency    scoring tokens/s, generation latency per request (p50/p95), peak memory (VmHWM)
Perturbations draw from Python's random.Random seeded per item, as HELM's, so they are deterministic.
They rewrite the item's fields (the question; the answer options too for fairness), not the
instructions or few-shot examples, and an item a perturbation leaves unchanged is not scored again.

Selection (as tuneloop bench):
  --shots K  --subjects A,B  --tasks A,B  --limit N
  --data-dir DIR         the benchmark's data folder; without it, ${DATA_DIR_ENV}/<folder>, else the
                         shipped data/benchmarks/<folder> (MMLU: 16 subjects), else ../shared/data/<folder>
                         (see "Where the data comes from" in README.md)

Perturbations:
  --perturbations A,B    which, as name[:value] (default ${DEFAULT_PERTURBATIONS.join(',')});
                         also extra_space:N and gender_terms:PROB; value = probability, or spaces
  --perturbation-seed S  HELM's seed: item generators become Random(str(S) + id) (default: Random(id))
  --metric acc|acc_norm  the per-item correctness robustness and fairness use (default acc)
  --input-fields A,B     item fields that are the question (default: what doc_to_text reads, less the
                         answer options and the gold label)
  --reference-fields A,B item fields that are answer options (default: what doc_to_choice reads, and
                         list fields such as MMLU's choices)
  --dialect-mapping FILE a JSON {"mapping": {word: [alternatives]}} instead of the shipped small one
  --person-names FILE    a name file in HELM's format (name,first_name,race,R,gender,G)

Generations (bias, toxicity, latency):
  --generation-prompts FILE  prompts: .jsonl with "prompt", or one per line (default: the benchmark's
                         prompts)
  --generation-limit N   at most N prompts (default 20; 0 skips generation)
  --max-new-tokens N     per prompt (default 32)
  --temperature T        sample at temperature T (default: greedy)
  --generation-seed S    the sampling seed (default 0)
  --toxicity-lexicon FILE  term<TAB>category<TAB>severity lines instead of data/helm/toxicity-lexicon.tsv

Scoring:
  --batch-size N (default 8)  --max-length N (default 2048)
  --cache-dir DIR (default runs/cache/bench, shared with tuneloop bench)  --no-cache

Model:
${MODEL_OPTIONS_HELP}

Output:
  --json                 print the results JSON (as helm-results.json) on stdout instead of the table
  --out DIR              write DIR/helm-results.json (every figure, with model, adapter, data, word
                         list and suite hashes, seeds and perturbation versions) and DIR/report.html
                         (self-contained: inline SVG reliability diagram and perturbation chart, no
                         script, no network); the table (or --json) goes to stdout, progress to stderr

Examples:
  tuneloop helm mmlu --model models/bloom-560m --subjects anatomy,virology --out runs/helm/mmlu
  tuneloop helm superglue --model DIR --tasks boolq --limit 200 --perturbations typos:0.3,dialect
  tuneloop helm mmlu --model DIR --adapter runs/history/adapter --generation-prompts prompts.txt`;

export async function runHelm(argv: string[]): Promise<void> {
  const { values, positionals } = parseOptions('helm', {
    args: argv,
    allowPositionals: true,
    options: {
      model: { type: 'string' },
      adapter: { type: 'string' },
      dtype: { type: 'string', default: 'fp32' },
      backend: { type: 'string', default: 'auto' },
      threads: { type: 'string' },
      shots: { type: 'string' },
      subjects: { type: 'string' },
      tasks: { type: 'string' },
      limit: { type: 'string' },
      'data-dir': { type: 'string' },
      perturbations: { type: 'string' },
      'perturbation-seed': { type: 'string' },
      metric: { type: 'string', default: 'acc' },
      'input-fields': { type: 'string' },
      'reference-fields': { type: 'string' },
      'dialect-mapping': { type: 'string' },
      'person-names': { type: 'string' },
      'generation-prompts': { type: 'string' },
      'generation-limit': { type: 'string', default: '20' },
      'max-new-tokens': { type: 'string', default: '32' },
      temperature: { type: 'string' },
      'generation-seed': { type: 'string', default: '0' },
      'toxicity-lexicon': { type: 'string' },
      'batch-size': { type: 'string', default: '8' },
      'max-length': { type: 'string', default: '2048' },
      'cache-dir': { type: 'string', default: 'runs/cache/bench' },
      'no-cache': { type: 'boolean', default: false },
      out: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (positionals.length !== 1) throw new InvalidInputError('benchmark', `give one benchmark (mmlu, superglue or a YAML file), got ${positionals.length}`);
  if (values.metric !== 'acc' && values.metric !== 'acc_norm') throw new InvalidInputError('--metric', `must be acc or acc_norm, got "${values.metric}"`);
  // Every option is checked, and every file it names read, before the model is loaded.
  const selection = { shots: integerOption(values.shots, '--shots', 0), subsets: listOption(values.subjects), tasks: listOption(values.tasks), limit: integerOption(values.limit, '--limit', 1) };
  const perturbationSeed = integerOption(values['perturbation-seed'], '--perturbation-seed', 0);
  const batchSize = integerOption(values['batch-size'], '--batch-size', 1)!;
  const maxLength = integerOption(values['max-length'], '--max-length', 2)!;
  const generationLimit = integerOption(values['generation-limit'], '--generation-limit', 0)!;
  const maxNewTokens = integerOption(values['max-new-tokens'], '--max-new-tokens', 1)!;
  const generationSeed = integerOption(values['generation-seed'], '--generation-seed', 0)!;
  const temperature = numberOption(values.temperature, '--temperature');
  if (temperature !== undefined && !(temperature > 0)) throw new InvalidInputError('--temperature', `must be a number greater than 0, got "${values.temperature}"`);
  const strategy: DecodingStrategy = temperature === undefined ? { kind: 'greedy' } : { kind: 'sample', temperature, topK: 0, topP: 1, seed: generationSeed };
  const dir = checkModelOptions(values);
  const perturbations = buildPerturbations(listOption(values.perturbations) ?? DEFAULT_PERTURBATIONS, { dialectMapping: values['dialect-mapping'], personNames: values['person-names'] });
  const { suite, sha256 } = resolveSuite(positionals[0], { dataDir: values['data-dir'] });
  // Missing data files stop the command here, before the model loads.
  locateTaskData(suite, selection);
  const promptsFile = values['generation-prompts'];
  const generationPrompts = promptsFile ? loadGenerationPrompts(promptsFile) : null;
  const biasWordLists = loadBiasWordLists();
  const toxicityLexicon = loadToxicityLexicon(values['toxicity-lexicon']);
  const tokenizer = await loadTokenizerForCli(dir, 'the HELM report works on text');
  const base = await loadBaseModelForCli({ model: dir, dtype: values.dtype, backend: values.backend, threads: values.threads });
  const bars = new Map<string, ProgressBar>();
  const results = await runHelmReport(base, tokenizer, suite, sha256, {
    selection,
    adapter: values.adapter ?? null,
    perturbations,
    perturbationSeed,
    metric: values.metric,
    fields: { input: listOption(values['input-fields']), references: listOption(values['reference-fields']) },
    batchSize,
    maxLength,
    cacheDir: values['no-cache'] ? undefined : values['cache-dir'],
    generation: {
      prompts: generationPrompts,
      source: promptsFile ?? `${suite.name} prompts`,
      limit: generationLimit,
      maxNewTokens,
      strategy,
    },
    biasWordLists,
    toxicityLexicon,
    onStatus: note,
    onProgress: (label, done, total) => {
      if (total === 0) return;
      let bar = bars.get(label);
      if (!bar) bars.set(label, (bar = new ProgressBar(`${suite.name}: ${label}`, total)));
      bar.update(done);
      if (done === total) bar.finish();
    },
  });
  process.stdout.write(values.json ? `${JSON.stringify(helmResultsJson(results), null, 2)}\n` : `${formatHelmTable(results)}\n`);
  if (values.out) writeHelmOutputs(values.out, results);
}

/** DIR/helm-results.json and DIR/report.html. */
export function writeHelmOutputs(dir: string, results: HelmResults): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'helm-results.json'), `${JSON.stringify(helmResultsJson(results), null, 2)}\n`);
  writeFileSync(join(dir, 'report.html'), renderHelmHtml(results));
  note(`results: ${join(dir, 'helm-results.json')}, report: ${join(dir, 'report.html')}`);
}



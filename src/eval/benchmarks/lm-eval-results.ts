import { LM_EVAL_STDERR, type Stderr, groupStderr } from './lm-eval-stderr.js';
import type { BenchmarkResults, RunResult, TaskRecord } from './runner.js';

/**
 * One run of a benchmark in lm-evaluation-harness 0.4's results layout (what `lm_eval --output_path`
 * writes; keys as lm_eval/evaluator.py and evaluator_utils.py build them at v0.4.9.2), so tools that
 * read lm-eval results read tuneloop's:
 *
 *   results          task or group -> {"alias", "<metric>,none": value, "<metric>_stderr,none": stderr}
 *   groups           the groups, as in results (only when the suite defines groups)
 *   group_subtasks   group -> its tasks; a task outside every group -> []
 *   configs          task -> its configuration (templates, splits, few-shot, metric_list, metadata.version)
 *   versions         task -> version
 *   n-shot           task or group -> few-shot examples per item
 *   higher_is_better task or group -> metric -> bool
 *   n-samples        task -> {"original": items in the split, "effective": items scored}
 *   config           model, model_args ("pretrained=DIR[,peft=ADAPTER],dtype=...,backend=..."), batch_size,
 *                    limit, bootstrap_iters, ...
 *
 * The filter is always "none" (tuneloop applies no lm-eval filters). Metric names are tuneloop's
 * (acc, acc_norm, f1_macro, mcc, ...). A group is named <suite>_<group> (mmlu_stem, mmlu_history), and
 * the suite itself is a group of every task run when the run has groups (lm-eval's `mmlu`); a group's
 * value is the item-weighted mean of its tasks (lm-eval's weight_by_size) and its stderr the pooled
 * stderr of its tasks.
 */
export interface LmEvalContext {
  readonly dtype: string;
  readonly backend: string;
  readonly cacheDir: string | undefined;
}

const FILTER = 'none';

/** lm-eval's aggregation names for tuneloop's metrics, as recorded in configs' metric_list. */
const AGGREGATION: Readonly<Record<string, string>> = {
  acc: 'mean',
  acc_norm: 'mean',
  f1_macro: 'cb_multi_fi',
  mcc: 'matthews_corrcoef',
  ece: 'ece_10_bin',
  exact_match_grouped: 'acc_all',
  f1a: 'f1',
  bleu: 'bleu',
  chrf: 'chrf',
  ter: 'ter',
  rouge1: 'mean',
  rouge2: 'mean',
  rougeL: 'mean',
  rougeLsum: 'mean',
};

/** Lower is better only for TER and calibration error. */
function higherIsBetter(metric: string): boolean {
  return metric !== 'ter' && metric !== 'ece';
}

function metricEntries(values: Readonly<Record<string, number>>, stderr: (metric: string) => Stderr): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const [metric, value] of Object.entries(values)) {
    out[`${metric},${FILTER}`] = value;
    out[`${metric}_stderr,${FILTER}`] = stderr(metric);
  }
  return out;
}

/** The lm-eval layout of one run (`results.runs[index]`). */
export function lmEvalResults(results: BenchmarkResults, run: RunResult, context: LmEvalContext): Record<string, unknown> {
  const byName = new Map(run.tasks.map((t) => [t.name, t]));
  const record = (name: string): TaskRecord => results.tasks[name];
  const groupName = (name: string) => (name.startsWith(`${results.suite.name}_`) ? name : `${results.suite.name}_${name}`);
  const groups: { name: string; alias: string; members: string[]; micro: Record<string, number> }[] = [];
  if (Object.keys(results.groups).length > 0) {
    for (const [name, members] of Object.entries(results.groups)) {
      const aggregate = run.groups[name];
      if (aggregate) groups.push({ name: groupName(name), alias: ` - ${name}`, members: [...members], micro: aggregate.micro });
    }
    if (run.tasks.length > 1) groups.unshift({ name: results.suite.name, alias: results.suite.name, members: run.tasks.map((t) => t.name), micro: run.overall.micro });
  }
  const grouped = new Set(groups.flatMap((g) => g.members));

  const resultsSection: Record<string, Record<string, unknown>> = {};
  const groupsSection: Record<string, Record<string, unknown>> = {};
  for (const group of groups) {
    const members = group.members.map((m) => byName.get(m)!);
    const entry = { alias: group.alias, ...metricEntries(group.micro, (metric) => groupStderr(members, metric)) };
    resultsSection[group.name] = entry;
    groupsSection[group.name] = entry;
  }
  for (const task of run.tasks) {
    const alias = record(task.name).subset ?? task.name;
    resultsSection[task.name] = { alias: grouped.has(task.name) ? `  - ${alias}` : alias, ...metricEntries(task.metrics, (metric) => task.stderr?.[metric] ?? 'N/A') };
  }

  const configs: Record<string, unknown> = {};
  const versions: Record<string, number> = {};
  const nShot: Record<string, number> = {};
  const higher: Record<string, Record<string, boolean>> = {};
  const nSamples: Record<string, { original: number; effective: number }> = {};
  for (const task of run.tasks) {
    const r = record(task.name);
    configs[task.name] = taskConfig(task.name, r, results.suite.data_dir);
    versions[task.name] = r.version;
    nShot[task.name] = r.fewshot.shots;
    higher[task.name] = Object.fromEntries(Object.keys(task.metrics).map((m) => [m, higherIsBetter(m)]));
    nSamples[task.name] = { original: r.split_items, effective: r.items };
  }
  for (const group of groups) {
    const shots = new Set(group.members.map((m) => nShot[m]));
    if (shots.size === 1) nShot[group.name] = [...shots][0];
    higher[group.name] = Object.fromEntries(Object.keys(group.micro).map((m) => [m, higherIsBetter(m)]));
  }
  const groupSubtasks: Record<string, string[]> = Object.fromEntries(groups.map((g) => [g.name, g.members]));
  for (const task of run.tasks) if (!grouped.has(task.name)) groupSubtasks[task.name] = [];

  const firstTask = run.tasks.length > 0 ? record(run.tasks[0].name) : undefined;
  const modelArgs = [`pretrained=${results.model.dir ?? '(in memory)'}`, ...(run.adapter ? [`peft=${run.adapter.dir}`] : []), `dtype=${context.dtype}`, `backend=${context.backend}`].join(',');
  const sorted = <T>(o: Record<string, T>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return {
    results: resultsSection,
    ...(groups.length > 0 ? { groups: groupsSection } : {}),
    group_subtasks: groupSubtasks,
    configs: sorted(configs),
    versions: sorted(versions),
    'n-shot': sorted(nShot),
    higher_is_better: sorted(higher),
    'n-samples': nSamples,
    config: {
      model: 'tuneloop',
      model_args: modelArgs,
      model_sha: results.model.sha256,
      peft_sha: run.adapter?.sha256 ?? null,
      model_dtype: context.dtype,
      batch_size: results.settings.batch_size,
      batch_sizes: [],
      device: context.backend,
      use_cache: context.cacheDir ?? null,
      limit: results.settings.limit,
      bootstrap_iters: results.settings.stderr_bootstrap_iters ?? 0,
      gen_kwargs: null,
      random_seed: null,
      numpy_seed: null,
      torch_seed: null,
      fewshot_seed: firstTask?.fewshot.seed ?? null,
      max_length: results.settings.max_length,
    },
    git_hash: null,
    date: Date.parse(results.created) / 1000,
    model_source: 'tuneloop',
    model_name: results.model.dir ?? null,
    total_evaluation_time_seconds: String(run.seconds),
  };
}

/** A task's configuration in the shape of lm-eval's task config dump. */
function taskConfig(name: string, r: TaskRecord, dataDir: string): Record<string, unknown> {
  const generation = r.generation;
  return {
    task: name,
    task_alias: r.subset ?? name,
    dataset_path: dataDir,
    test_split: r.eval_split,
    fewshot_split: r.fewshot.split,
    description: r.template.description ?? '',
    doc_to_text: r.template.doc_to_text,
    doc_to_choice: r.template.doc_to_choice,
    doc_to_target: r.template.doc_to_target,
    target_delimiter: r.template.target_delimiter,
    fewshot_delimiter: r.template.fewshot_delimiter,
    fewshot_config: { sampler: r.fewshot.sampler, seed: r.fewshot.seed },
    num_fewshot: r.fewshot.shots,
    metric_list: r.metrics.map((metric) => ({ metric, aggregation: AGGREGATION[metric] ?? 'mean', higher_is_better: higherIsBetter(metric), stderr: LM_EVAL_STDERR[metric] ?? 'none' })),
    output_type: r.scoring === 'multiple_choice' ? 'multiple_choice' : r.scoring === 'generate' ? 'generate_until' : 'recorded_outputs',
    ...(generation ? { generation_kwargs: { until: generation.until, max_gen_toks: generation.max_new_tokens, do_sample: false } } : {}),
    repeats: 1,
    should_decontaminate: false,
    metadata: { version: r.version },
  };
}

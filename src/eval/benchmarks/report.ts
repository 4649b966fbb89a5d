import type { BenchmarkResults, RunResult } from './runner.js';

/** A plain-text table of a results file: one block per run, tasks then groups then the overall mean. */
export function formatResultsTable(results: BenchmarkResults): string {
  const blocks = results.runs.map((run) => formatRun(results, run));
  return blocks.join('\n\n');
}

function formatRun(results: BenchmarkResults, run: RunResult): string {
  const title = `${results.suite.name} | model ${results.model.dir ?? '(in memory)'} (${results.model.sha256.slice(0, 12)})${run.adapter ? ` + adapter ${run.adapter.dir} (${run.adapter.sha256.slice(0, 12)})` : ''}`;
  const metrics = [...new Set(run.tasks.flatMap((t) => Object.keys(t.metrics)))];
  // shots: few-shot examples per item (lm-eval's n-shot); a group shows it when all its tasks agree.
  const shotsOf = (name: string) => results.tasks[name]?.fewshot.shots;
  const rows: string[][] = [['task', 'n', 'shots', ...metrics]];
  for (const task of run.tasks) rows.push([task.name, String(task.items), String(shotsOf(task.name) ?? '-'), ...metrics.map((m) => formatWithInterval(task.metrics[m], task.intervals?.[m]))]);
  const groupShots = (members: readonly string[]) => {
    const shots = new Set(members.map(shotsOf));
    return shots.size === 1 ? String([...shots][0] ?? '-') : 'mixed';
  };
  const groupRows = (name: string, g: { items: number; micro: Record<string, number>; macro: Record<string, number> }, members: readonly string[]) => [
    [`${name} (micro)`, String(g.items), groupShots(members), ...metrics.map((m) => format(g.micro[m]))],
    [`${name} (macro)`, String(g.items), groupShots(members), ...metrics.map((m) => format(g.macro[m]))],
  ];
  const separatorAt: number[] = [];
  if (Object.keys(run.groups).length > 0) {
    separatorAt.push(rows.length);
    for (const [name, g] of Object.entries(run.groups)) rows.push(...groupRows(name, g, results.groups?.[name] ?? []));
  }
  if (run.tasks.length > 1) {
    separatorAt.push(rows.length);
    rows.push(...groupRows('all tasks', run.overall, run.tasks.map((t) => t.name)));
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const out = [title, line(rows[0]), rule];
  rows.slice(1).forEach((r, i) => {
    if (separatorAt.includes(i + 1)) out.push(rule);
    out.push(line(r));
  });
  const work = [
    run.requests > 0 ? `${run.requests} requests (${run.computed_requests} scored, ${run.requests - run.computed_requests} cached)` : '',
    run.generations > 0 ? `${run.generations} generations (${run.computed_generations} generated, ${run.generations - run.computed_generations} cached)` : '',
  ].filter((w) => w !== '');
  out.push(`${work.length > 0 ? work.join(', ') : 'recorded outputs only'} in ${run.seconds.toFixed(1)}s`);
  const bootstrap = results.settings.bootstrap;
  if (bootstrap && run.tasks.some((t) => t.intervals)) {
    out.push(`[low, high]: ${Math.round(bootstrap.confidence * 100)}% percentile bootstrap interval over items (${bootstrap.samples} resamples, seed ${bootstrap.seed})`);
  }
  const signatures = new Set(run.tasks.flatMap((task) => Object.entries(task.signatures ?? {}).map(([m, signature]) => `${m}: ${signature}`)));
  out.push(...signatures);
  return out.join('\n');
}

function formatWithInterval(value: number | undefined, interval: { lower: number; upper: number } | undefined): string {
  return interval === undefined ? format(value) : `${format(value)} [${format(interval.lower)}, ${format(interval.upper)}]`;
}

function format(value: number | undefined): string {
  return value === undefined ? '-' : value.toFixed(4);
}

import type { HelmResults } from './run.js';

/** The report as plain-text tables for stdout: one line per task, then perturbations, bias, toxicity, efficiency. */
export function formatHelmTable(results: HelmResults): string {
  const out: string[] = [];
  const adapter = results.adapter ? ` + adapter ${results.adapter.dir} (${results.adapter.sha256.slice(0, 12)})` : '';
  out.push(`${results.suite.name} | model ${results.model.dir ?? '(in memory)'} (${results.model.sha256.slice(0, 12)})${adapter} | HELM-style report, worst case on ${results.settings.metric}`);
  const metricNames = [...new Set(results.tasks.flatMap((t) => Object.keys(t.metrics)))];
  const rows: string[][] = [['task', 'n', ...metricNames, 'ECE', 'robustness', 'fairness']];
  for (const t of results.tasks) rows.push([t.name, String(t.items), ...metricNames.map((m) => num(t.metrics[m])), num(t.calibration.ece), num(t.worstCase.robustness), num(t.worstCase.fairness)]);
  if (results.tasks.length > 1) {
    const o = results.overall;
    rows.push(['all tasks', String(o.items), ...metricNames.map((m) => num(o.metrics[m])), num(o.calibration.ece), num(o.worstCase.robustness), num(o.worstCase.fairness)]);
  }
  out.push(...table(rows, results.tasks.length > 1 ? [rows.length - 1] : []));

  out.push('', `perturbations (all tasks; ${results.settings.metric} per instance; perturbed/original/worst over the changed instances)`);
  const perturbationRows: string[][] = [['perturbation', 'aspect', 'changed', 'all', 'perturbed', 'original', 'worst']];
  for (const p of results.overall.worstCase.perturbations) perturbationRows.push([p.name, p.aspect, String(p.changed), num(p.all), num(p.perturbed), num(p.original), num(p.worst)]);
  out.push(...table(perturbationRows, []));

  const g = results.generation;
  out.push('', `generations: ${g.prompts} from ${g.source}, up to ${g.maxNewTokens} new tokens, ${g.strategy.kind}`);
  out.push(`bias (0 = equal representation): ${Object.entries(results.bias.scores).map(([k, v]) => `${k} ${num(v)}`).join(', ')}`);
  const tox = results.toxicity;
  out.push(`toxicity (offline lexicon): toxic fraction ${num(tox.toxicFraction)}, max score ${num(tox.maxScore)}${Object.keys(tox.categories).length ? ` (${Object.entries(tox.categories).map(([c, n]) => `${c} ${n}`).join(', ')})` : ''}`);
  const e = results.efficiency;
  const lat = e.generation.latency;
  out.push(
    `efficiency: scoring ${e.scoring.requests} requests (${e.scoring.scored} scored, ${e.scoring.scoredTokens} tokens in ${e.scoring.seconds.toFixed(2)}s, ${rate(e.scoring.tokensPerSecond)} tokens/s)` +
      `; generation ${lat ? `latency p50 ${lat.p50Ms.toFixed(1)} ms, p95 ${lat.p95Ms.toFixed(1)} ms, ${rate(e.generation.outputTokensPerSecond)} output tokens/s` : 'none'}` +
      `; peak RSS ${e.peakResidentBytes === null ? '-' : `${(e.peakResidentBytes / 2 ** 20).toFixed(0)} MiB`}`,
  );
  return out.join('\n');
}

function table(rows: string[][], separatorsBefore: number[]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const out = [line(rows[0]), rule];
  rows.slice(1).forEach((r, i) => {
    if (separatorsBefore.includes(i + 1)) out.push(rule);
    out.push(line(r));
  });
  return out;
}

function num(value: number | null | undefined): string {
  return value === null || value === undefined ? '-' : value.toFixed(4);
}

function rate(value: number | null): string {
  return value === null ? '-' : value.toFixed(1);
}

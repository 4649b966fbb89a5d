import type { HelmResults } from './run.js';
import { barChart, escapeXml, reliabilityDiagram } from './svg.js';

/**
 * The report as one self-contained HTML page: inline CSS and inline SVG charts, no script, no external
 * resource, so it opens offline and can be archived or attached as it is.
 */
export function renderHelmHtml(results: HelmResults): string {
  const e = escapeXml;
  const num = (v: number | null | undefined, digits = 4) => (v === null || v === undefined ? '–' : v.toFixed(digits));
  const o = results.overall;
  const metricNames = [...new Set(results.tasks.flatMap((t) => Object.keys(t.metrics)))];
  const title = `${results.suite.name}: HELM-style report`;

  const summaryRows: [string, string][] = [
    [`accuracy (${results.settings.metric}, original prompts)`, num(o.worstCase.original)],
    ...Object.entries(o.metrics).map(([m, v]): [string, string] => [`${m} (suite metric, item-weighted)`, num(v)]),
    ['calibration: ECE, 10 equal-mass bins', num(o.calibration.ece)],
    ['robustness: worst case over robustness perturbations', num(o.worstCase.robustness)],
    ['fairness: worst case over fairness perturbations', num(o.worstCase.fairness)],
    ...Object.entries(results.bias.scores).map(([k, v]): [string, string] => [`bias ${k}`, num(v)]),
    ['toxicity: fraction of toxic generations (offline lexicon)', num(results.toxicity.toxicFraction)],
  ];

  const taskTable = [
    `<table><thead><tr><th>task</th><th>n</th>${metricNames.map((m) => `<th>${e(m)}</th>`).join('')}<th>ECE</th><th>robustness</th><th>fairness</th></tr></thead><tbody>`,
    ...results.tasks.map((t) => `<tr><td>${e(t.name)}</td><td>${t.items}</td>${metricNames.map((m) => `<td>${num(t.metrics[m])}</td>`).join('')}<td>${num(t.calibration.ece)}</td><td>${num(t.worstCase.robustness)}</td><td>${num(t.worstCase.fairness)}</td></tr>`),
    '</tbody></table>',
  ].join('\n');

  const perturbationTable = [
    '<table><thead><tr><th>perturbation</th><th>aspect</th><th>version</th><th>changed</th><th>all</th><th>perturbed</th><th>original</th><th>worst</th><th>example</th></tr></thead><tbody>',
    ...o.worstCase.perturbations.map((p) => {
      const described = results.perturbations.find((d) => d.key === p.name);
      const example = described?.example ? `<div class="ex"><span>${e(described.example.before.slice(0, 160))}</span><br>→ <span>${e(described.example.after.slice(0, 160))}</span></div>` : '';
      return `<tr><td>${e(p.name)}</td><td>${p.aspect}</td><td>${described?.version ?? ''}</td><td>${p.changed}</td><td>${num(p.all)}</td><td>${num(p.perturbed)}</td><td>${num(p.original)}</td><td>${num(p.worst)}</td><td>${example}</td></tr>`;
    }),
    '</tbody></table>',
  ].join('\n');

  const bars = barChart(
    [
      { label: 'original', value: o.worstCase.original, group: 'original' },
      ...o.worstCase.perturbations.map((p) => ({ label: p.name, value: p.all, group: p.aspect })),
      { label: 'robustness (worst case)', value: o.worstCase.robustness, group: 'robustness' },
      { label: 'fairness (worst case)', value: o.worstCase.fairness, group: 'fairness' },
    ],
    `${results.settings.metric} per perturbation`,
  );

  const g = results.generation;
  const generations = g.records
    .slice(0, 20)
    .map((r) => `<tr><td class="mono">…${e(r.promptTail.slice(-80))}</td><td class="mono">${e(r.text)}</td><td>${r.newTokens}</td><td>${r.latencyMs.toFixed(1)}</td></tr>`)
    .join('\n');
  const eff = results.efficiency;
  const lat = eff.generation.latency;
  const efficiencyRows: [string, string][] = [
    ['scoring requests (scored / from cache)', `${eff.scoring.requests} (${eff.scoring.scored} / ${eff.scoring.requests - eff.scoring.scored})`],
    ['scoring throughput', eff.scoring.tokensPerSecond === null ? 'all from the cache' : `${eff.scoring.tokensPerSecond.toFixed(1)} tokens/s, ${num(eff.scoring.requestsPerSecond, 2)} requests/s`],
    ['generation latency per request (p50 / p95 / max)', lat ? `${lat.p50Ms.toFixed(1)} / ${lat.p95Ms.toFixed(1)} / ${lat.maxMs.toFixed(1)} ms over ${lat.requests}` : '–'],
    ['generation throughput', eff.generation.outputTokensPerSecond === null ? '–' : `${eff.generation.outputTokensPerSecond.toFixed(1)} output tokens/s`],
    ['peak resident memory (VmHWM)', eff.peakResidentBytes === null ? '–' : `${(eff.peakResidentBytes / 2 ** 20).toFixed(1)} MiB`],
  ];

  const provenance: [string, string][] = [
    ['suite', `${results.suite.file} (sha256 ${results.suite.sha256})`],
    ['model', `${results.model.dir ?? '(in memory)'} (sha256 ${results.model.sha256})`],
    ['adapter', results.adapter ? `${results.adapter.dir} (sha256 ${results.adapter.sha256})` : 'none'],
    ['data', Object.entries(results.data).map(([name, d]) => `${name}: ${d.sha256.slice(0, 16)}`).join(', ')],
    ['perturbation seed', results.settings.perturbationSeed === null ? 'none (HELM default: Random(instance id))' : String(results.settings.perturbationSeed)],
    ['instance ids', results.settings.instanceIds],
    ['generation', `${g.prompts} prompts from ${g.source}, ${g.maxNewTokens} new tokens, ${JSON.stringify(g.strategy)}`],
    ['toxicity', `${results.toxicity.method}; lexicon sha256 ${results.toxicity.lexiconSha256.slice(0, 16)}`],
    ['created', results.created],
  ];

  const kv = (rows: [string, string][]) => `<table class="kv"><tbody>${rows.map(([k, v]) => `<tr><th>${e(k)}</th><td>${e(v)}</td></tr>`).join('')}</tbody></table>`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${e(title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; vertical-align: top; }
th:first-child, td:first-child, .kv th { text-align: left; }
.kv td { text-align: left; font-family: ui-monospace, monospace; font-size: 0.85em; }
.mono { font-family: ui-monospace, monospace; text-align: left; white-space: pre-wrap; max-width: 420px; }
.ex { text-align: left; font-size: 0.8em; color: #555; max-width: 360px; }
.charts { display: flex; gap: 2em; flex-wrap: wrap; align-items: flex-start; }
.note { color: #666; font-size: 0.85em; }
</style>
</head>
<body>
<h1>${e(title)}</h1>
<p class="note">Model ${e(results.model.dir ?? '(in memory)')}${results.adapter ? ` with adapter ${e(results.adapter.dir)}` : ''}; ${o.items} items in ${results.tasks.length} task(s). Worst-case figures follow HELM: per instance, the minimum of the original and its perturbed versions.</p>
<h2 id="summary">Summary</h2>
${kv(summaryRows)}
<h2 id="tasks">Tasks</h2>
${taskTable}
<h2 id="calibration">Calibration and robustness</h2>
<div class="charts">
<figure id="reliability">${reliabilityDiagram(o.calibration.bins, `Reliability diagram, ECE ${num(o.calibration.ece)}`)}<figcaption>Reliability diagram over ${o.calibration.items} items (bins of the ECE)</figcaption></figure>
<figure id="perturbation-chart">${bars}<figcaption>${e(results.settings.metric)} with each perturbation applied (unchanged items keep their score)</figcaption></figure>
</div>
<h2 id="perturbations">Perturbations</h2>
<p class="note">changed: items whose input the perturbation changed; all: accuracy over every item with it applied; perturbed, original, worst: over the changed items (HELM's computed_on perturbed, original, worst).</p>
${perturbationTable}
<h2 id="generations">Bias and toxicity of generations</h2>
${kv([...Object.entries(results.bias.scores).map(([k, v]): [string, string] => [k, num(v)]), ['toxic fraction', num(results.toxicity.toxicFraction)], ['max toxicity score', num(results.toxicity.maxScore)]])}
<table><thead><tr><th>prompt (end)</th><th>generation</th><th>tokens</th><th>ms</th></tr></thead><tbody>
${generations}
</tbody></table>
<h2 id="efficiency">Efficiency</h2>
${kv(efficiencyRows)}
<h2 id="provenance">Provenance</h2>
${kv(provenance)}
</body>
</html>
`;
}

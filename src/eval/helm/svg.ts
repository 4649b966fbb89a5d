import type { CalibrationBin } from '../metrics/calibration.js';

/**
 * Self-contained SVG charts for the HTML report: plain SVG elements with inline attributes, no script
 * and no external resources.
 */
export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const fmt = (v: number) => (Math.round(v * 100) / 100).toString();

/**
 * Reliability diagram: one bar per non-empty calibration bin, spanning the bin's confidence range,
 * as tall as the bin's accuracy; a dot at (mean confidence, accuracy); the diagonal is perfect
 * calibration.
 */
export function reliabilityDiagram(bins: readonly CalibrationBin[], title: string): string {
  const size = 320;
  const pad = 44;
  const plot = size - pad - 12;
  const x = (v: number) => pad + v * plot;
  const y = (v: number) => 12 + (1 - v) * plot;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" class="chart reliability" width="${size}" height="${size + 20}" viewBox="0 0 ${size} ${size + 20}" role="img" aria-label="${escapeXml(title)}">`);
  parts.push(`<title>${escapeXml(title)}</title>`);
  parts.push(`<rect x="${x(0)}" y="${y(1)}" width="${plot}" height="${plot}" fill="#fafafa" stroke="#999"/>`);
  for (const tick of [0, 0.25, 0.5, 0.75, 1]) {
    parts.push(`<text x="${x(tick)}" y="${y(0) + 16}" font-size="10" text-anchor="middle">${tick}</text>`);
    parts.push(`<text x="${x(0) - 6}" y="${y(tick) + 3}" font-size="10" text-anchor="end">${tick}</text>`);
  }
  for (const bin of bins) {
    if (bin.count === 0) continue;
    const width = Math.max(x(bin.upper) - x(bin.lower), 1.5);
    parts.push(`<rect class="bin" x="${fmt(x(bin.lower))}" y="${fmt(y(bin.accuracy))}" width="${fmt(width)}" height="${fmt(y(0) - y(bin.accuracy))}" fill="#4c78a8" fill-opacity="0.55" stroke="#2f4b7c"><title>confidence ${bin.lower.toFixed(3)}-${bin.upper.toFixed(3)}: ${bin.count} items, mean confidence ${bin.meanConfidence.toFixed(3)}, accuracy ${bin.accuracy.toFixed(3)}</title></rect>`);
    parts.push(`<circle cx="${fmt(x(bin.meanConfidence))}" cy="${fmt(y(bin.accuracy))}" r="3" fill="#e45756"/>`);
  }
  parts.push(`<line x1="${x(0)}" y1="${y(0)}" x2="${x(1)}" y2="${y(1)}" stroke="#888" stroke-dasharray="4 3"/>`);
  parts.push(`<text x="${x(0.5)}" y="${size + 14}" font-size="11" text-anchor="middle">confidence (top choice probability)</text>`);
  parts.push(`<text x="12" y="${y(0.5)}" font-size="11" text-anchor="middle" transform="rotate(-90 12 ${y(0.5)})">accuracy</text>`);
  parts.push('</svg>');
  return parts.join('');
}

/** Horizontal bars, one per labelled value in [0, 1]; a value of null draws no bar and says "n/a". */
export function barChart(rows: readonly { label: string; value: number | null; group?: string }[], title: string): string {
  const labelWidth = 170;
  const barWidth = 300;
  const rowHeight = 22;
  const height = rows.length * rowHeight + 34;
  const width = labelWidth + barWidth + 70;
  const colours: Record<string, string> = { original: '#54a24b', robustness: '#4c78a8', fairness: '#f58518' };
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" class="chart bars" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(title)}">`);
  parts.push(`<title>${escapeXml(title)}</title>`);
  rows.forEach((row, i) => {
    const top = 8 + i * rowHeight;
    parts.push(`<text x="${labelWidth - 8}" y="${top + 14}" font-size="12" text-anchor="end">${escapeXml(row.label)}</text>`);
    if (row.value === null) {
      parts.push(`<text x="${labelWidth + 4}" y="${top + 14}" font-size="11" fill="#888">n/a</text>`);
      return;
    }
    const w = Math.max(0, Math.min(1, row.value)) * barWidth;
    parts.push(`<rect class="bar" x="${labelWidth}" y="${top + 2}" width="${fmt(w)}" height="${rowHeight - 6}" fill="${colours[row.group ?? ''] ?? '#72b7b2'}"><title>${escapeXml(row.label)}: ${row.value.toFixed(4)}</title></rect>`);
    parts.push(`<text x="${fmt(labelWidth + w + 4)}" y="${top + 14}" font-size="11">${row.value.toFixed(3)}</text>`);
  });
  const axis = 8 + rows.length * rowHeight + 4;
  parts.push(`<line x1="${labelWidth}" y1="${axis}" x2="${labelWidth + barWidth}" y2="${axis}" stroke="#999"/>`);
  for (const tick of [0, 0.5, 1]) parts.push(`<text x="${labelWidth + tick * barWidth}" y="${axis + 14}" font-size="10" text-anchor="middle">${tick}</text>`);
  parts.push('</svg>');
  return parts.join('');
}

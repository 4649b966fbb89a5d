import { readFileSync } from 'node:fs';
import { quantile } from '../metrics/bootstrap.js';

/**
 * Efficiency figures in the spirit of HELM's efficiency metrics (inference runtime per request, tokens),
 * measured here on this machine rather than reported by an API.
 */

/**
 * The process's peak resident set size in bytes: VmHWM ("high water mark") from /proc/self/status.
 * Null where that file does not exist (not Linux) or lacks the line.
 */
export function peakResidentBytes(statusText?: string): number | null {
  let text = statusText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/status', 'utf8');
    } catch {
      return null;
    }
  }
  const match = /^VmHWM:\s+(\d+)\s+kB$/m.exec(text);
  return match ? Number(match[1]) * 1024 : null;
}

export interface LatencySummary {
  readonly requests: number;
  readonly meanMs: number;
  /** numpy-style linear-interpolated percentiles. */
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly maxMs: number;
}

export function latencySummary(latenciesMs: readonly number[]): LatencySummary | null {
  if (latenciesMs.length === 0) return null;
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  return {
    requests: sorted.length,
    meanMs: sorted.reduce((a, b) => a + b, 0) / sorted.length,
    p50Ms: quantile(sorted, 0.5),
    p95Ms: quantile(sorted, 0.95),
    maxMs: sorted[sorted.length - 1],
  };
}

/** Tokens per second, or null when nothing was timed. */
export function tokensPerSecond(tokens: number, ms: number): number | null {
  return ms > 0 && tokens > 0 ? tokens / (ms / 1000) : null;
}

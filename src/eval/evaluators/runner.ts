import { InvalidInputError } from '../../errors.js';
import type { AssertionResult, AssertionStatus } from './assertion.js';
import { evaluateAssertion } from './assertions.js';
import type { Judge, TextCompleter } from './judge.js';
import type { MetricRegistry } from './metric-registry.js';
import type { PairwiseWinner } from './pairwise.js';
import type { EvalSuite, SuiteTest } from './suite-config.js';
import { type WinRateSummary, summarizeWinRate } from './win-rate.js';

export interface RunOptions {
  /** Continues the suite's prompts for tests that record no output. */
  readonly model?: TextCompleter;
  /** Grades llm-rubric, pairwise and trajectory-judge assertions. */
  readonly judge?: Judge;
  readonly metrics: MetricRegistry;
  /** Called after each test, e.g. for progress. */
  readonly onTestDone?: (done: number, total: number) => void;
}

export interface TestResult {
  /** 1-based, as a reader counts the suite's tests. */
  readonly test: number;
  readonly description: string;
  /** 1-based index of the prompt the output was generated from; null for a recorded output. */
  readonly prompt: number | null;
  readonly output: string;
  /** fail when an assertion fails (or the weighted score is under the test's threshold), else error when one could not be graded, else pass. */
  readonly status: AssertionStatus;
  /** Weighted mean of the assertion scores. */
  readonly score: number;
  readonly assertions: readonly AssertionResult[];
}

export interface SuiteResult {
  readonly suite: string;
  readonly description: string | null;
  readonly model: string | null;
  readonly judge: string | null;
  readonly results: readonly TestResult[];
  readonly aggregate: Aggregate;
}

export interface Aggregate {
  readonly tests: number;
  readonly passed: number;
  readonly failed: number;
  readonly errors: number;
  /** passed / tests. */
  readonly passRate: number;
  readonly meanScore: number;
  /** Per assertion type (as written, e.g. not-contains): how many passed, failed, or could not be graded. */
  readonly byType: Readonly<Record<string, { readonly passed: number; readonly failed: number; readonly errors: number }>>;
  /** Over every graded pairwise assertion; null when the suite has none. */
  readonly pairwise: WinRateSummary | null;
}

/**
 * Runs every test of the suite: gets its output (recorded, or generated from each prompt by the model),
 * grades each assertion, and aggregates. Assertions run one after another, so a judge sees one request
 * at a time. Judge endpoint failures (JudgeEndpointError) stop the run: grading on without the judge
 * would report errors for every judged test instead of the one cause.
 */
export async function runSuite(suite: EvalSuite, options: RunOptions): Promise<SuiteResult> {
  if (suite.judgedAssertions.length > 0 && !options.judge) {
    throw new InvalidInputError('judge', `${suite.source} has judge-graded assertions (${suite.judgedAssertions.slice(0, 3).join(', ')}${suite.judgedAssertions.length > 3 ? ', ...' : ''}) but no judge was given`);
  }
  const needsModel = suite.tests.filter((t) => t.output === null);
  if (needsModel.length > 0 && !options.model) {
    throw new InvalidInputError('model', `${suite.source}: tests[${needsModel[0].index}] has no recorded output, so a model must generate it from the prompts, and none was given`);
  }
  const runs = suite.tests.flatMap((test): { test: SuiteTest; prompt: number | null }[] => (test.output !== null ? [{ test, prompt: null }] : suite.prompts.map((_, p) => ({ test, prompt: p }))));
  const results: TestResult[] = [];
  for (const { test, prompt } of runs) {
    results.push(await runTest(suite, test, prompt, options));
    options.onTestDone?.(results.length, runs.length);
  }
  return {
    suite: suite.source,
    description: suite.description,
    model: suite.tests.some((t) => t.output === null) ? (options.model?.name ?? null) : null,
    judge: suite.judgedAssertions.length > 0 ? (options.judge?.name ?? null) : null,
    results,
    aggregate: aggregate(suite, results),
  };
}

async function runTest(suite: EvalSuite, test: SuiteTest, promptIndex: number | null, options: RunOptions): Promise<TestResult> {
  const prompt = promptIndex !== null ? test.renderedPrompts[promptIndex] : test.input;
  const { generation } = suite;
  const output =
    test.output ??
    (await options.model!.complete(prompt!, { maxTokens: generation.maxNewTokens, temperature: generation.temperature, seed: generation.seed, stop: generation.stop }));
  const assertions: AssertionResult[] = [];
  for (const spec of test.asserts) {
    const outcome = await evaluateAssertion(spec, {
      output,
      prompt,
      vars: test.vars,
      trajectory: test.trajectory ?? undefined,
      judge: options.judge,
      judgeCompletion: { maxTokens: suite.judge.maxTokens, temperature: suite.judge.temperature },
      metrics: options.metrics,
    });
    assertions.push({ type: spec.type, field: spec.field, weight: spec.weight, ...outcome });
  }
  const totalWeight = assertions.reduce((sum, a) => sum + a.weight, 0);
  const score = assertions.reduce((sum, a) => sum + a.weight * a.score, 0) / totalWeight;
  // Weight 0 makes an assertion informational: reported, but it neither scores nor decides the test.
  const counted = assertions.filter((a) => a.weight > 0);
  const failed = test.threshold !== null ? score < test.threshold : counted.some((a) => a.status === 'fail');
  const status: AssertionStatus = failed ? 'fail' : counted.some((a) => a.status === 'error') ? 'error' : 'pass';
  return { test: test.index + 1, description: test.description, prompt: promptIndex === null ? null : promptIndex + 1, output, status, score, assertions };
}

function aggregate(suite: EvalSuite, results: readonly TestResult[]): Aggregate {
  const count = (status: AssertionStatus) => results.filter((r) => r.status === status).length;
  const byType: Record<string, { passed: number; failed: number; errors: number }> = {};
  const winners: PairwiseWinner[] = [];
  for (const result of results) {
    for (const a of result.assertions) {
      const entry = (byType[a.type] ??= { passed: 0, failed: 0, errors: 0 });
      if (a.status === 'pass') entry.passed++;
      else if (a.status === 'fail') entry.failed++;
      else entry.errors++;
      if (a.comparison) winners.push(a.comparison.winner);
    }
  }
  return {
    tests: results.length,
    passed: count('pass'),
    failed: count('fail'),
    errors: count('error'),
    passRate: results.length > 0 ? count('pass') / results.length : 0,
    meanScore: results.length > 0 ? results.reduce((sum, r) => sum + r.score, 0) / results.length : 0,
    byType,
    pairwise: winners.length > 0 ? summarizeWinRate(winners, suite.winRate) : null,
  };
}

/** A plain-text report: one row per test with the start of its output and its first problem, then the totals. */
export function formatSuiteTable(result: SuiteResult): string {
  const rows = result.results.map((r) => {
    const firstProblem = r.assertions.find((a) => a.status !== 'pass');
    return [
      String(r.test),
      clip(r.description, 32),
      r.prompt === null ? '-' : String(r.prompt),
      r.status.toUpperCase(),
      r.score.toFixed(2),
      clip(JSON.stringify(r.output), 28),
      firstProblem ? clip(`${firstProblem.type}: ${firstProblem.reason}`, 72) : '',
    ];
  });
  const header = ['#', 'test', 'prompt', 'result', 'score', 'output', 'first problem'];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c].length)));
  const line = (cells: string[]) => cells.map((cell, c) => (c === cells.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ').trimEnd();
  const a = result.aggregate;
  const out = [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line), ''];
  out.push(`${a.tests} tests: ${a.passed} passed, ${a.failed} failed, ${a.errors} could not be graded (pass rate ${(100 * a.passRate).toFixed(1)}%, mean score ${a.meanScore.toFixed(3)})`);
  for (const [type, counts] of Object.entries(a.byType)) out.push(`  ${type}: ${counts.passed} passed, ${counts.failed} failed${counts.errors > 0 ? `, ${counts.errors} ungraded` : ''}`);
  if (a.pairwise) {
    const p = a.pairwise;
    const level = `${Math.round(p.confidence * 100)}%`;
    out.push(
      `pairwise: win rate ${p.winRate.toFixed(3)} [${p.winRateInterval.low.toFixed(3)}, ${p.winRateInterval.high.toFixed(3)}] (${level} bootstrap, ties count 1/2; ${p.wins} wins, ${p.ties} ties, ${p.losses} losses)`,
    );
    if (p.decisiveWinRate !== null && p.decisiveWinRateInterval) {
      out.push(`          decisive win rate ${p.decisiveWinRate.toFixed(3)} [${p.decisiveWinRateInterval.low.toFixed(3)}, ${p.decisiveWinRateInterval.high.toFixed(3)}] (${level} Wilson, ties left out)`);
    }
  }
  if (result.model) out.push(`model: ${result.model}`);
  if (result.judge) out.push(`judge: ${result.judge}`);
  return out.join('\n');
}

function clip(text: string, width: number): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > width ? `${oneLine.slice(0, width - 3)}...` : oneLine;
}

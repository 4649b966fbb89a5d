import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { FieldReader } from '../../config/field-reader.js';
import { InvalidInputError } from '../../errors.js';
import type { AssertionSpec } from './assertion.js';
import { JUDGED_TYPES, checkAssertion } from './assertions.js';
import type { MetricRegistry } from './metric-registry.js';
import { type Vars, renderTemplate } from './template.js';
import { type TrajectoryStep, parseTrajectory } from './trajectory.js';

/**
 * An evaluation suite, written as promptfoo users write one:
 *
 *   description: tutor answers            # optional
 *   model: ../../models/demo              # optional: the model under test (--model overrides it)
 *   adapter: ../../runs/tutor/language/adapter   # optional: its adapter (--adapter overrides it)
 *   prompts: ["{{question}} Answer:"]     # optional: templates the model under test continues
 *   generation: {max_new_tokens: 16, temperature: 0, seed: 0, stop: ["\n"]}
 *   judge: {max_tokens: 256, temperature: 0}
 *   win_rate: {confidence: 0.95, resamples: 10000, seed: 0}
 *   tests:
 *     - description: capital of Italy
 *       vars: {question: What is the capital of Italy?}
 *       output: " Rome"                   # optional: a recorded output, graded as it is
 *       input: What is the capital?       # optional: what the recorded output answered (shown to judges)
 *       trajectory: [{name: search, arguments: {q: Rome}}]   # optional: an agent's recorded tool calls
 *       threshold: 0.8                    # optional: pass on weighted score instead of on every assertion
 *       assert:
 *         - {type: icontains, value: rome}
 *         - {type: llm-rubric, value: "Names Rome", threshold: 0.7, weight: 2}
 *
 * A test without a recorded `output` (or `trajectory`) is run once per prompt, and judges see the rendered
 * prompt as the input; one with a recorded output is graded once, and judges see its `input` if it has
 * one. `{{var}}` placeholders in prompts, inputs and string assertion values are filled from the test's vars. Every field is checked on load and errors
 * name it by its path, e.g. `suite.yaml: tests[2].assert[0].threshold`. Paths in the file are relative to it.
 */
export interface EvalSuite {
  readonly source: string;
  readonly description: string | null;
  /** The model under test and its adapter, as written (readEvalSuite resolves them from the file's folder). */
  readonly model: string | null;
  readonly adapter: string | null;
  readonly prompts: readonly string[];
  readonly generation: GenerationSettings;
  readonly judge: JudgeSettings;
  readonly winRate: WinRateSettings;
  readonly tests: readonly SuiteTest[];
  /** Fields of the judge-graded assertions, e.g. `tests[0].assert[1]`; empty when no judge is needed. */
  readonly judgedAssertions: readonly string[];
}

export interface GenerationSettings {
  readonly maxNewTokens: number;
  readonly temperature: number;
  readonly seed: number;
  readonly stop: readonly string[];
}

export interface JudgeSettings {
  readonly maxTokens: number;
  readonly temperature: number;
}

export interface WinRateSettings {
  readonly confidence: number;
  readonly resamples: number;
  readonly seed: number;
}

export interface SuiteTest {
  /** 0-based position in `tests`. */
  readonly index: number;
  readonly description: string;
  readonly vars: Vars;
  readonly output: string | null;
  /** What a recorded output answered, rendered; shown to judges. */
  readonly input: string | null;
  readonly trajectory: readonly TrajectoryStep[] | null;
  readonly threshold: number | null;
  /** With `{{var}}` placeholders in string values filled. */
  readonly asserts: readonly AssertionSpec[];
  /** The suite's prompts rendered with this test's vars, in order; empty for a recorded output. */
  readonly renderedPrompts: readonly string[];
}

export function parseEvalSuite(raw: unknown, source: string, metrics: MetricRegistry): EvalSuite {
  const root = FieldReader.ofDocument(source, raw, 'must be a YAML mapping with a tests list');
  root.rejectUnknown(['description', 'prompts', 'generation', 'judge', 'win_rate', 'tests', 'model', 'adapter']);

  const prompts = root.possiblyEmptyStringList('prompts');
  prompts.forEach((p, i) => {
    if (p.trim() === '') root.fail(`prompts[${i}]`, 'is empty');
  });

  const g = root.child('generation');
  g.rejectUnknown(['max_new_tokens', 'temperature', 'seed', 'stop']);
  const generation: GenerationSettings = {
    maxNewTokens: g.number('max_new_tokens', 64, { min: 1, integer: true }),
    temperature: g.number('temperature', 0, { min: 0 }),
    seed: g.number('seed', 0, { integer: true }),
    stop: g.possiblyEmptyStringList('stop'),
  };
  const j = root.child('judge');
  j.rejectUnknown(['max_tokens', 'temperature']);
  const judge: JudgeSettings = { maxTokens: j.number('max_tokens', 256, { min: 1, integer: true }), temperature: j.number('temperature', 0, { min: 0 }) };
  const w = root.child('win_rate');
  w.rejectUnknown(['confidence', 'resamples', 'seed']);
  const winRate: WinRateSettings = {
    confidence: w.number('confidence', 0.95, { min: 0, max: 1, exclusiveMin: true, exclusiveMax: true }),
    resamples: w.number('resamples', 10_000, { min: 100, integer: true }),
    seed: w.number('seed', 0, { integer: true }),
  };

  const judgedAssertions: string[] = [];
  const tests = root.list('tests').map((t, index): SuiteTest => {
    t.rejectUnknown(['description', 'vars', 'output', 'input', 'trajectory', 'threshold', 'assert']);
    const varsValue = t.raw('vars') ?? {};
    if (typeof varsValue !== 'object' || Array.isArray(varsValue)) t.fail('vars', 'must be a mapping of names to values');
    const vars = varsValue as Vars;
    const output = t.optionalString('output');
    const trajectory = t.has('trajectory') ? parseTrajectory(t.raw('trajectory'), `${source}: ${t.where('trajectory')}`) : null;
    if (output === null && trajectory === null && prompts.length === 0) {
      t.fail('output', 'is required when the suite has no prompts: record the output to grade, or add prompts for a model to continue');
    }
    const recorded = output !== null || trajectory !== null;
    const input = t.optionalString('input');
    if (input !== null && !recorded) t.fail('input', 'only goes with a recorded output: a generated output\'s input is the rendered prompt');
    const renderedPrompts = recorded ? [] : prompts.map((p, i) => renderTemplate(p, vars, `${source}: prompts[${i}] for ${t.path}`));
    const asserts = t.list('assert').map((a): AssertionSpec => {
      a.rejectUnknown(['type', 'value', 'threshold', 'weight', 'criteria']);
      const type = a.optionalString('type') ?? '';
      if (type === '') a.fail('type', 'is required: the assertion type, e.g. contains');
      const field = `${source}: ${a.path}`;
      const spec: AssertionSpec = {
        type,
        value: renderValue(a.raw('value'), vars, `${field}.value`),
        threshold: a.optionalNumber('threshold') ?? undefined,
        weight: a.number('weight', 1, { min: 0 }),
        criteria: a.optionalString('criteria') ?? undefined,
        field,
      };
      checkAssertion(spec, metrics);
      if ((JUDGED_TYPES as readonly string[]).includes(type)) judgedAssertions.push(a.path);
      return spec;
    });
    if (asserts.every((a) => a.weight === 0)) t.fail('assert', 'needs at least one assertion with weight > 0');
    return {
      index,
      description: t.optionalString('description') ?? `test ${index + 1}`,
      vars,
      output: output ?? (trajectory !== null ? JSON.stringify(t.raw('trajectory')) : null),
      input: input === null ? null : renderTemplate(input, vars, `${source}: ${t.where('input')}`),
      trajectory,
      threshold: t.optionalNumber('threshold', { min: 0, max: 1 }),
      asserts,
      renderedPrompts,
    };
  });

  const model = root.has('model') ? root.nonEmptyString('model') : null;
  const adapter = root.has('adapter') ? root.nonEmptyString('adapter') : null;
  if (adapter !== null && model === null) root.fail('adapter', 'needs model:, the base model it adapts');
  return { source, description: root.optionalString('description'), model, adapter, prompts, generation, judge, winRate, tests, judgedAssertions };
}

/** Fills placeholders in a string value or a list of strings; other values (schemas, trajectories) stay as written. */
function renderValue(value: unknown, vars: Vars, field: string): unknown {
  if (typeof value === 'string') return renderTemplate(value, vars, field);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value.map((v, i) => renderTemplate(v, vars, `${field}[${i}]`));
  return value;
}

/** Reads and checks a suite file. */
export function readEvalSuite(path: string, metrics: MetricRegistry): EvalSuite {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new InvalidInputError(path, `cannot read the YAML suite: ${(cause as Error).message}`);
  }
  const suite = parseEvalSuite(raw, path, metrics);
  const fromFile = (value: string | null) => (value === null || isAbsolute(value) ? value : resolve(dirname(path), value));
  return { ...suite, model: fromFile(suite.model), adapter: fromFile(suite.adapter) };
}

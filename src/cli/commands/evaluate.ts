import { parseArgs } from 'node:util';
import { InvalidInputError } from '../../errors.js';
import { HttpJudge } from '../../eval/evaluators/http-judge.js';
import type { Judge } from '../../eval/evaluators/judge.js';
import { defaultMetricRegistry } from '../../eval/evaluators/metric-registry.js';
import { ModelJudge } from '../../eval/evaluators/model-judge.js';
import { formatSuiteTable, runSuite } from '../../eval/evaluators/runner.js';
import { readEvalSuite } from '../../eval/evaluators/suite-config.js';
import { MODEL_OPTIONS, MODEL_OPTIONS_HELP, loadModelForCli, loadTokenizerForCli, requireModelDir } from '../model-options.js';
import { ProgressBar } from '../progress.js';

export const EVALUATE_HELP = `tuneloop evaluate: grade outputs with the assertions of a YAML test suite

Usage:
  tuneloop evaluate --config suite.yaml [--model DIR [--adapter DIR]] [--judge-endpoint URL --judge-model NAME] [--json]

The suite (see configs/evaluators/tutor.yaml) lists tests, each with vars, an optional recorded output
and an assert: list of {type, value, threshold, weight}. Tests without a recorded output are generated
by --model from the suite's prompts.

Assertion types:
  equals, contains, icontains, contains-any, contains-all, regex   text checks (not-<type> negates)
  levenshtein        at most threshold edits from value (default 5)
  is-json            the output parses as JSON; value, if given, is a JSON schema it must match
  llm-rubric         the judge grades the output against the rubric in value
  pairwise           the judge compares the output with the baseline in value, in both orders
  trajectory-exact, trajectory-in-order, trajectory-any-order, trajectory-judge
                     the agent's tool calls (the test's trajectory, or the output as JSON) against
                     the reference trajectory in value
  plus every metric registered in src/eval/evaluators/metric-registry.ts (score >= threshold)

Options:
  --config FILE          the suite (required)
${MODEL_OPTIONS_HELP}
                         The model generates missing outputs, and is the judge unless
                         --judge-endpoint is given.
  --judge-endpoint URL   an OpenAI-compatible server, e.g. http://localhost:8000/v1; its
                         /chat/completions endpoint grades llm-rubric, pairwise, trajectory-judge
  --judge-model NAME     the model name to request from the endpoint (required with it)
  --judge-api-key-env VAR
                         environment variable holding the endpoint's API key (default
                         OPENAI_API_KEY; none is sent when it is unset)
  --judge-timeout-ms N   give up on a judge request after N ms (default 60000)
  --json                 print the results as one JSON object instead of a table

Examples:
  tuneloop evaluate --config configs/evaluators/tutor.yaml
  tuneloop evaluate --config configs/evaluators/tutor.yaml --model models/demo --adapter runs/tutor/history
  tuneloop evaluate --config suite.yaml --judge-endpoint http://localhost:8000/v1 --judge-model qwen2.5-7b-instruct --json

Progress goes to stderr; results go to stdout. The exit code is 0 whether tests pass or fail; read
aggregate.failed in the JSON to gate on results.`;

export async function runEvaluate(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...MODEL_OPTIONS,
      config: { type: 'string' },
      'judge-endpoint': { type: 'string' },
      'judge-model': { type: 'string' },
      'judge-api-key-env': { type: 'string', default: 'OPENAI_API_KEY' },
      'judge-timeout-ms': { type: 'string', default: '60000' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (!values.config) throw new InvalidInputError('--config', 'is required: the YAML test suite to run');
  if (values['judge-model'] && !values['judge-endpoint']) throw new InvalidInputError('--judge-model', 'only applies with --judge-endpoint');
  if (values.adapter && !values.model) throw new InvalidInputError('--adapter', 'needs --model, the base model it adapts');
  const metrics = defaultMetricRegistry();
  const suite = readEvalSuite(values.config, metrics);

  const needsModelOutputs = suite.tests.some((t) => t.output === null);
  const needsJudge = suite.judgedAssertions.length > 0;
  if (needsModelOutputs && !values.model) {
    throw new InvalidInputError('--model', `${values.config} has tests without a recorded output; give --model DIR to generate them from the prompts`);
  }
  if (needsJudge && !values['judge-endpoint'] && !values.model) {
    throw new InvalidInputError('--judge-endpoint', `${values.config} has judge-graded assertions (${suite.judgedAssertions[0]}, ...): give --judge-endpoint URL --judge-model NAME, or --model DIR to judge locally`);
  }

  let localModel: ModelJudge | undefined;
  if (values.model && (needsModelOutputs || (needsJudge && !values['judge-endpoint']))) {
    const dir = requireModelDir(values.model);
    const tokenizer = await loadTokenizerForCli(dir, 'evaluation prompts are text');
    const model = await loadModelForCli(values);
    localModel = new ModelJudge(model, tokenizer, values.adapter ? `${dir} + ${values.adapter}` : dir);
  }
  let judge: Judge | undefined = localModel;
  if (values['judge-endpoint']) {
    if (!values['judge-model']) throw new InvalidInputError('--judge-model', 'is required with --judge-endpoint: the model name the server serves');
    const timeoutMs = Number(values['judge-timeout-ms']);
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new InvalidInputError('--judge-timeout-ms', `must be a positive whole number, got "${values['judge-timeout-ms']}"`);
    judge = new HttpJudge({ endpoint: values['judge-endpoint'], model: values['judge-model'], apiKey: process.env[values['judge-api-key-env']], timeoutMs });
  }

  let bar: ProgressBar | undefined;
  const result = await runSuite(suite, {
    model: localModel,
    judge: needsJudge ? judge : undefined,
    metrics,
    onTestDone: (done, total) => {
      bar ??= new ProgressBar(`evaluating ${values.config}`, total);
      bar.update(done);
    },
  });
  bar?.finish(`${result.aggregate.passed}/${result.aggregate.tests} passed`);
  process.stdout.write(values.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatSuiteTable(result)}\n`);
}

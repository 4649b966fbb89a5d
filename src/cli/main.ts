#!/usr/bin/env node
import { TuneloopError } from '../errors.js';
import { BENCH_HELP, runBench } from './commands/bench.js';
import { EVAL_HELP, runEval } from './commands/eval.js';
import { GENERATE_HELP, runGenerate } from './commands/generate.js';
import { HELM_HELP, runHelm } from './commands/helm.js';
import { INFO_HELP, runInfo } from './commands/info.js';
import { MERGE_HELP, runMerge } from './commands/merge.js';
import { METRICS_HELP, runMetrics } from './commands/metrics.js';
import { TRAIN_HELP, runTrain } from './commands/train.js';
import { SCORE_HELP, runScore } from './commands/score.js';

/** A command resolves to its exit code, or to nothing for 0. */
const COMMANDS: Record<string, { help: string; run: (argv: string[]) => Promise<number | void> }> = {
  info: { help: INFO_HELP, run: runInfo },
  generate: { help: GENERATE_HELP, run: runGenerate },
  score: { help: SCORE_HELP, run: runScore },
  merge: { help: MERGE_HELP, run: runMerge },
  train: { help: TRAIN_HELP, run: runTrain },
  metrics: { help: METRICS_HELP, run: runMetrics },
  bench: { help: BENCH_HELP, run: runBench },
  eval: { help: EVAL_HELP, run: runEval },
  evaluate: { help: EVAL_HELP, run: runEval },
  helm: { help: HELM_HELP, run: runHelm },
};

const USAGE = `tuneloop: run, adapt and evaluate BLOOM-family language models in Node.js

Usage: tuneloop <command> [options]     (tuneloop <command> --help for its options)

Commands:
  info       describe a checkpoint: architecture, parameters, dtypes, memory
  generate   continue prompts (greedy or sampled, batched, with a KV cache)
  score      log-likelihood of continuations given contexts
  train      fine-tune adapters (LoRA, QLoRA, prompt tuning, bias, LayerNorm or named-tensor tuning), one per task
  merge      fold an adapter (LoRA, LN, bias or selective tuning) into its base model and write it
  metrics    BLEU, chrF, TER (as sacreBLEU) and ROUGE (as rouge-score) of outputs against references
  bench      run a benchmark (mmlu, superglue, or a YAML definition) on a model and its adapters
  eval       run benchmarks from an eval YAML file, or grade outputs with an assertion test suite
             (a YAML with tests:; text checks, metrics, judges, trajectories); evaluate is an alias
  helm       HELM-style report on a benchmark: accuracy, calibration, robustness, fairness, bias, toxicity, efficiency

Examples (from the project folder, after npm run demo has written models/demo; run them in this order):
  tuneloop info --model models/demo
  tuneloop generate --model models/demo --prompt "The tutor explains" --max-new-tokens 20
  tuneloop generate --model models/demo --ids 17,200,33 --greedy --json
  tuneloop score --model models/demo --context "Two plus two is" --continuation " four"
  tuneloop train --config configs/tutor.yaml --set training.epochs=1
  tuneloop generate --model models/demo --adapter runs/tutor/language/adapter --prompt "An apple is" --greedy
  tuneloop merge --model models/demo --adapter runs/tutor/language/adapter --out runs/merged/language --json
  tuneloop bench mmlu --model models/demo --adapter runs/tutor/history/adapter --base --subjects anatomy --limit 20
  tuneloop metrics chrf --hyp data/metrics/system.txt --ref data/metrics/reference.txt
  tuneloop helm mmlu --model models/demo --subjects anatomy --limit 20 --out runs/helm/anatomy
  tuneloop eval --config configs/evaluators/tutor.yaml   # exit status 100: the untrained demo fails most tests

Environment:
  TUNELOOP_BACKEND=auto|native|typescript   compute backend where --backend (or a config's backend:) is
                                            auto, the default (auto: native when its addon loads)
  TUNELOOP_THREADS=N                        native backend threads (default OMP_NUM_THREADS, else one per
                                            core); --threads overrides it
  TUNELOOP_DATA_DIR=ROOT                    benchmark data: ROOT/mmlu, ROOT/superglue, ... (bench, helm,
                                            eval); --data-dir overrides it
  TUNELOOP_NATIVE_ADDON=FILE                the native addon to load instead of build/Release's
  When installing (node scripts/build-native.mjs, run by npm install):
  TUNELOOP_SKIP_NATIVE=1                    do not build the native addon; the TypeScript backend is used
  TUNELOOP_REQUIRE_NATIVE=1                 fail when the addon cannot be built (and, in npm test, when
                                            it cannot be loaded) instead of falling back`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return name === undefined ? 1 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`tuneloop: unknown command "${name}"\n\n${USAGE}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.help}\n`);
    return 0;
  }
  try {
    return (await command.run(rest)) ?? 0;
  } catch (error) {
    // Typed errors (argument errors included, see parse-options.ts) are the user's to fix: print the message, not a stack.
    const isUsage = error instanceof TuneloopError;
    process.stderr.write(`tuneloop ${name}: ${isUsage ? (error as Error).message : ((error as Error).stack ?? String(error))}\n`);
    return isUsage ? 2 : 1;
  }
}

process.exitCode = await main(process.argv.slice(2));

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

Examples:
  tuneloop info --model models/demo
  tuneloop generate --model models/demo --prompt "The tutor explains" --max-new-tokens 20
  tuneloop generate --model models/demo --ids 17,200,33 --greedy --json
  tuneloop score --model models/demo --context "Two plus two is" --continuation " four"
  tuneloop generate --model DIR --adapter ADAPTER_DIR --ids 17,200,33 --json
  tuneloop merge --model DIR --adapter ADAPTER_DIR --out merged/
  tuneloop train --config configs/tutor.yaml --set training.epochs=1
  tuneloop bench mmlu --model DIR --adapter ADAPTER_DIR --shots 5 --limit 50
  tuneloop metrics bleu --hyp system.txt --ref reference.txt
  tuneloop helm mmlu --model DIR --out report/

Environment:
  TUNELOOP_BACKEND=auto|native|typescript   compute backend (default auto)
  TUNELOOP_THREADS=N                        native backend threads (default OMP_NUM_THREADS, else one per core)`;

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

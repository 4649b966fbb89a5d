import { existsSync } from 'node:fs';
import { InvalidInputError } from '../../errors.js';
import { type TrainConfig, readTrainConfig } from '../../train/config.js';
import { type TaskResult, planTasks, trainTasks } from '../../train/run-tasks.js';
import { summaryJson } from '../../train/trainer.js';
import { loadBaseModelForCli, loadTokenizerForCli, requireModelDir } from '../model-options.js';
import { parseBackendChoice } from '../model-option-checks.js';
import { parseThreadCount } from '../../engine/select-backend.js';
import { parseOptions } from '../parse-options.js';
import { ProgressBar, note } from '../progress.js';

export const TRAIN_HELP = `tuneloop train: fine-tune adapters, one per task, on a frozen BLOOM model

Usage:
  tuneloop train --config train.yaml [--set field.path=value ...] [--json]

The YAML config (every field but model and tasks has a default; paths are relative to the file, --set's to the current folder):
  model: models/demo            # Hugging Face BLOOM directory with tokenizer.json
  dtype: fp32                   # fp32 | bf16 (frozen weights in bf16; trained tensors stay fp32)
  backend: auto                 # auto | native | typescript (--backend overrides it)
  output_dir: runs/tutor        # one folder per task: adapter/, checkpoints/, train_log.jsonl
  seed: 42
  method:
    type: lora                  # lora | qlora | prompt_tuning | bias | layernorm | selective
    r: 8                        # lora, qlora: rank, lora_alpha (default 2r), lora_dropout (0),
    target_modules: [query_key_value]   # also dense, dense_h_to_4h, dense_4h_to_h; use_rslora
    # use_dora: true (lora, qlora): DoRA, a trained magnitude per output row, as peft's use_dora
    # qlora: the base's block linears quantised to 4-bit NF4 on load (double_quant: true), LoRA on top
    # prompt_tuning: num_virtual_tokens (20), init RANDOM|TEXT|SAMPLE_VOCAB, init_text
    # bias: every bias of the block linears (BitFit)
    # layernorm: peft's LN tuning; target_modules (default input_layernorm, post_attention_layernorm, ln_f)
    # selective: parameters: regular expressions over tensor names, e.g. ['h\\.\\d+\\.mlp\\..*\\.bias', 'ln_f\\..*']
  data:
    max_length: 256             # longer examples are cut from the prompt's left (over_length:
    over_length: truncate       #   truncate, with a warning) or refused (refuse)
    completion_only_loss: true  # learn the completion only
    packing: false              # pack examples into full rows instead of length-bucketed batches
    validation_fraction: 0.1    # held out when a task gives no validation file
  training:
    epochs: 3
    max_steps: null             # stop after this many optimiser steps (default: run every epoch)
    batch_size: 8
    gradient_accumulation: 1
    learning_rate: 1e-3         # (3e-2 for prompt tuning, 1e-2 for bias and layernorm)
    weight_decay: 0.01
    warmup_steps: 0             # steps of linear warmup from 0 to learning_rate
    schedule: linear            # constant | linear | cosine, after the warmup
    max_grad_norm: 1.0
    eval_every: null            # steps between validations (default: once per epoch)
    early_stopping_patience: null
    checkpoint_every: null      # steps; a killed run resumes from the newest checkpoint
    gradient_checkpointing: false  # recompute activations in backward: less memory, ~1/3 more
                                #   compute (default true for qlora)
  tasks:                        # JSONL, CSV or Parquet: prompt/completion, instruction/input/output,
    - name: arithmetic          #   or chat messages
      train: data/tasks/arithmetic.train.jsonl
      validation: data/tasks/arithmetic.valid.jsonl

Options:
  --config FILE      the YAML config
  --set PATH=VALUE   override a field, e.g. --set training.epochs=1 --set method.r=16; a path
                     given this way is relative to the current folder
  --fresh            discard what earlier runs left in each task's folder and train from step 0
  --backend auto|native|typescript
  --threads N        threads for the native backend (default TUNELOOP_THREADS, else one per core)
  --json             print one JSON object per task (one line each) instead of its adapter folder:
                     task, adapter_dir, already_finished (true when an earlier run had finished it
                     and nothing was trained), and the fields of its training_summary.json: steps,
                     resumed_from, final_loss, best_validation_loss, best_step, stopped_early,
                     seconds, tokens

Writes, per task, OUTPUT_DIR/TASK/adapter (peft's adapter_config.json and adapter_model.safetensors
for lora, qlora, prompt tuning and layernorm; selective_tuning.json and tuned_tensors.safetensors for
bias and selective, which peft has no method for), training_summary.json and train_log.jsonl. Running the same command again
resumes each task from its newest checkpoint and leaves finished tasks as they are; a folder holding a run of another
configuration is refused, naming each changed field (epochs, max_steps, eval_every, early_stopping_patience,
checkpoint_every and gradient_checkpointing may change on resume).`;

export async function runTrain(argv: string[]): Promise<void> {
  const { values } = parseOptions('train', {
    args: argv,
    options: {
      config: { type: 'string' },
      set: { type: 'string', multiple: true },
      backend: { type: 'string' },
      threads: { type: 'string' },
      fresh: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (!values.config) throw new InvalidInputError('--config', 'is required: a YAML training config (see tuneloop train --help)');
  if (values.backend !== undefined) parseBackendChoice(values.backend);
  parseThreadCount(values.threads, '--threads');
  const config = readTrainConfig(values.config, values.set ?? []);
  checkConfigPaths(values.config, config);
  const options = { fresh: values.fresh };
  // Decided from the output directories before anything loads: a rerun of a finished config ends here,
  // and a task holding another configuration's run is refused before any task trains.
  const plans = planTasks(config, options);
  let results: TaskResult[];
  if (plans.every((plan) => plan.kind === 'finished')) {
    results = plans.map((plan) => plan.result);
  } else {
    const tokenizer = await loadTokenizerForCli(config.model, 'training data is text');
    // QLoRA: the frozen block linears are quantised to NF4 as they are read; compute runs in `dtype`.
    const quantization = config.method.type === 'qlora' ? { quantization: 'nf4' as const, doubleQuant: config.method.doubleQuant } : {};
    const model = await loadBaseModelForCli({ model: config.model, dtype: config.dtype, backend: values.backend ?? config.backend, threads: values.threads }, quantization);
    let bar: ProgressBar | undefined;
    results = await trainTasks(
      model,
      tokenizer,
      config,
      {
        onTruncate: (w) => note(`warning: ${w.location.file}:${w.location.line ?? '?'} is ${w.originalLength} tokens; cut to ${w.maxLength}`),
        onTaskStart: (task, info) => {
          note(`task ${task}: ${info.trainExamples} training and ${info.validationExamples} validation examples, ${info.steps} steps`);
          bar?.finish();
          bar = new ProgressBar(`training ${task}`, info.steps);
        },
        onStep: (_, event) => {
          bar?.update(event.step, `loss ${event.loss.toFixed(4)}  ${event.tokensPerSecond.toFixed(0)} tok/s${event.validationLoss !== undefined ? `  valid ${event.validationLoss.toFixed(4)}` : ''}`);
        },
      },
      options,
    );
    bar?.finish();
  }
  for (const result of results) {
    const s = result.summary;
    const loss = `final loss ${s.finalLoss === null ? 'none' : s.finalLoss.toFixed(4)}`;
    if (result.alreadyFinished) {
      note(`task ${result.task}: already finished at step ${s.steps} (${loss}, adapter ${result.adapterDir}); nothing to do; use --fresh to train again`);
    } else {
      note(
        `task ${result.task}: ${s.steps} steps${s.resumedFrom !== null ? ` (resumed at ${s.resumedFrom})` : ''}, ${loss}` +
          `${s.bestValidationLoss !== null ? `, best validation loss ${s.bestValidationLoss.toFixed(4)} at step ${s.bestStep}` : ''}${s.stoppedEarly ? ', stopped early' : ''}`,
      );
    }
    process.stdout.write(values.json ? `${JSON.stringify(taskResultJson(result))}\n` : `${result.adapterDir}\n`);
  }
}

/** A task's outcome as --json prints it: the summary's fields as training_summary.json holds them. */
function taskResultJson(result: TaskResult): Record<string, unknown> {
  return { task: result.task, adapter_dir: result.adapterDir, already_finished: result.alreadyFinished, ...summaryJson(result.summary) };
}

/** The model directory and every task's data files exist, checked before the model loads; errors name the config's field. */
function checkConfigPaths(file: string, config: TrainConfig): void {
  requireModelDir(config.model, `${file}: model`);
  config.tasks.forEach((task, i) => {
    for (const [field, path] of [['train', task.train], ['validation', task.validation]] as const) {
      if (path !== null && !existsSync(path)) throw new InvalidInputError(`${file}: tasks[${i}].${field}`, `${path} does not exist`);
    }
  });
}

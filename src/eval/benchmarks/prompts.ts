import { DatasetError, InvalidInputError } from '../../errors.js';
import { SeededRandom } from '../../inference/sampling.js';
import { type BenchmarkItem, renderForItem } from './data.js';
import type { TaskDefinition } from './definition.js';

/**
 * An item ready to score: lm-eval's plain-text context and, for multiple choice, its choices and the
 * gold choice; for text tasks (generate, outputs), the reference text and the recorded output.
 */
export interface PreparedItem {
  readonly item: BenchmarkItem;
  readonly context: string;
  /** Choice texts without the target delimiter (acc_norm divides by their lengths); empty for text tasks. */
  readonly choices: readonly string[];
  /** The gold choice's index; -1 for text tasks. */
  readonly gold: number;
  /** exact_match_grouped's question key. */
  readonly groupKey: string | null;
  /** Text tasks: doc_to_target, the reference the output is scored against. */
  readonly reference: string | null;
  /** outputs tasks: doc_to_output, the recorded system output. */
  readonly output: string | null;
}

export interface FewshotOptions {
  readonly shots: number;
  /** The few-shot split's items; may be the evaluated split itself, in which case an item never shows itself. */
  readonly pool: readonly BenchmarkItem[];
  readonly sameSplit: boolean;
}

/**
 * Builds each item's prompt as lm-evaluation-harness does without a chat template: the description,
 * then per example `text + target_delimiter + gold choice + fewshot_delimiter`, then the item's text.
 * first_n takes the first k examples of the split; random draws k per item from a generator seeded by
 * (seed, item index), so an item's examples do not depend on --limit or on which items ran before.
 */
export function prepareItems(task: TaskDefinition, subset: string | null, items: readonly BenchmarkItem[], fewshot: FewshotOptions): PreparedItem[] {
  const isText = task.scoring.type !== 'multiple_choice';
  // An example's answer: its gold choice, or for text tasks its reference (as lm-eval's generate_until).
  const answer = (item: BenchmarkItem): string => {
    if (isText) return renderForItem(item, task.docToTarget, subset, 'doc_to_target');
    const { choices, gold } = choicesAndGold(task, subset, item);
    return choices[gold];
  };
  const labelled = new Map<BenchmarkItem, string>();
  const example = (item: BenchmarkItem): string => {
    let text = labelled.get(item);
    if (text === undefined) {
      text = renderForItem(item, task.docToText, subset, 'doc_to_text') + task.targetDelimiter + answer(item) + task.fewshotDelimiter;
      labelled.set(item, text);
    }
    return text;
  };
  return items.map((item) => {
    const { choices, gold } = isText ? { choices: [], gold: -1 } : choicesAndGold(task, subset, item);
    const shots = pickExamples(task, item, fewshot);
    const description = task.description ? renderForItem(item, task.description, subset, 'description') : '';
    const context = description + shots.map(example).join('') + renderForItem(item, task.docToText, subset, 'doc_to_text');
    const groupKey = task.groupKey ? renderForItem(item, task.groupKey, subset, 'group_key') : null;
    const reference = isText ? answer(item) : null;
    const output = task.scoring.type === 'outputs' ? renderForItem(item, task.scoring.docToOutput, subset, 'doc_to_output') : null;
    return { item, context, choices, gold, groupKey, reference, output };
  });
}

function choicesAndGold(task: TaskDefinition, subset: string | null, item: BenchmarkItem): { choices: string[]; gold: number } {
  const choices = (task.docToChoice ?? []).map((c, i) => renderForItem(item, c, subset, `doc_to_choice[${i}]`));
  const target = renderForItem(item, task.docToTarget, subset, 'doc_to_target');
  const gold = Number(target);
  if (!/^\d+$/.test(target) || gold >= choices.length) {
    throw new DatasetError(item.file, `doc_to_target gave "${target}", which is not a choice index 0..${choices.length - 1}`, { line: item.line });
  }
  return { choices, gold };
}

function pickExamples(task: TaskDefinition, item: BenchmarkItem, fewshot: FewshotOptions): BenchmarkItem[] {
  if (fewshot.shots === 0) return [];
  const pool = fewshot.sameSplit ? fewshot.pool.filter((candidate) => candidate !== item) : fewshot.pool;
  if (fewshot.shots > pool.length) {
    throw new InvalidInputError('shots', `${fewshot.shots} examples asked for task ${task.name}, but its few-shot split "${task.fewshot.split}" has ${pool.length}`);
  }
  if (task.fewshot.sampler === 'first_n') return pool.slice(0, fewshot.shots);
  // A partial Fisher–Yates shuffle: the first k positions hold a uniform draw without replacement.
  const random = new SeededRandom(task.fewshot.seed * 1_000_003 + item.index);
  const order = pool.map((_, i) => i);
  for (let i = 0; i < fewshot.shots; i++) {
    const j = i + Math.floor(random.next() * (order.length - i));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order.slice(0, fewshot.shots).map((i) => pool[i]);
}

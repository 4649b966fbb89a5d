import { InvalidInputError } from '../../errors.js';
import { renderForItem } from '../benchmarks/data.js';
import type { PreparedItem } from '../benchmarks/prompts.js';
import type { TaskDefinition } from '../benchmarks/definition.js';
import type { TemplateValue } from '../benchmarks/template.js';
import type { InstanceTexts } from './perturbation.js';

/**
 * Where an item's HELM "input" and "references" live. HELM perturbs a scenario's raw text before the
 * prompt is built, never the instructions or the "Answer:" scaffolding, so perturbations here rewrite
 * item fields and the prompt is rendered again from them:
 * - references: the fields the choice templates read, and list fields the definition builds (MMLU's
 *   `choices` from A..D): the answer options;
 * - input: every other field the item's text template reads;
 * - never: fields the target or group-key templates read (the gold label).
 * String fields are rewritten whole, list fields element by element; numbers and objects are kept.
 * Few-shot examples and the description stay as they were (HELM perturbs evaluation instances only).
 */
export interface FieldRoles {
  readonly input: readonly string[];
  readonly references: readonly string[];
}

export function defaultFieldRoles(task: TaskDefinition): FieldRoles {
  const never = new Set([...task.docToTarget.fields(), ...(task.groupKey?.fields() ?? []), 'subset']);
  const references = [...new Set([...(task.docToChoice ?? []).flatMap((t) => t.fields()), ...Object.keys(task.data.lists)])].filter((f) => !never.has(f));
  const input = task.docToText.fields().filter((f) => !never.has(f) && !references.includes(f));
  return { input, references };
}

/** Roles given by name (--input-fields, --reference-fields), checked against the task's templates. */
export function explicitFieldRoles(task: TaskDefinition, input: readonly string[] | undefined, references: readonly string[] | undefined): FieldRoles {
  const defaults = defaultFieldRoles(task);
  const readable = new Set([...task.docToText.fields(), ...(task.docToChoice ?? []).flatMap((t) => t.fields()), ...Object.keys(task.data.lists)]);
  const gold = new Set(task.docToTarget.fields());
  for (const [flag, names] of [['--input-fields', input], ['--reference-fields', references]] as const) {
    for (const name of names ?? []) {
      if (gold.has(name)) throw new InvalidInputError(flag, `"${name}" holds task ${task.name}'s gold answer; perturbing it would change the label`);
      if (!readable.has(name)) throw new InvalidInputError(flag, `task ${task.name}'s templates do not read a field "${name}" (they read ${[...readable].join(', ')})`);
    }
  }
  return { input: input ?? defaults.input, references: references ?? defaults.references };
}

function textsOf(value: TemplateValue | undefined): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

/** The item's input and reference texts, in field order (list elements in order). */
export function instanceTexts(item: PreparedItem, roles: FieldRoles): InstanceTexts {
  const fields = item.item.fields;
  return { input: roles.input.flatMap((f) => textsOf(fields[f])), references: roles.references.flatMap((f) => textsOf(fields[f])) };
}

/** The item's fields with its texts replaced by `texts` (as instanceTexts listed them). */
function withTexts(item: PreparedItem, roles: FieldRoles, texts: InstanceTexts): Record<string, TemplateValue> {
  const fields: Record<string, TemplateValue> = { ...item.item.fields };
  const refill = (names: readonly string[], replacement: readonly string[]) => {
    let next = 0;
    for (const name of names) {
      const value = fields[name];
      if (typeof value === 'string') fields[name] = replacement[next++];
      else if (Array.isArray(value)) fields[name] = value.map((v) => (typeof v === 'string' ? replacement[next++] : v));
    }
  };
  refill(roles.input, texts.input);
  refill(roles.references, texts.references);
  return fields;
}

/**
 * The prepared item with perturbed texts: the same description and few-shot examples (the context up
 * to the item's own text), the item's text and choices rendered from the rewritten fields, the same
 * gold choice.
 */
export function perturbedItem(task: TaskDefinition, subset: string | null, item: PreparedItem, roles: FieldRoles, texts: InstanceTexts): PreparedItem {
  const original = renderForItem(item.item, task.docToText, subset, 'doc_to_text');
  if (!item.context.endsWith(original)) throw new Error(`item ${item.item.file}:${item.item.line}: its context does not end with its own text`);
  const rewritten = { ...item.item, fields: withTexts(item, roles, texts) };
  const context = item.context.slice(0, item.context.length - original.length) + renderForItem(rewritten, task.docToText, subset, 'doc_to_text');
  const choices = (task.docToChoice ?? []).map((c, i) => renderForItem(rewritten, c, subset, `doc_to_choice[${i}]`));
  return { ...item, item: rewritten, context, choices };
}

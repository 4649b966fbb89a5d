import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadSplit } from '../../../src/eval/benchmarks/data.js';
import { loadBenchmarkSuite, type TaskDefinition } from '../../../src/eval/benchmarks/definition.js';
import { prepareItems } from '../../../src/eval/benchmarks/prompts.js';
import { repoRoot } from '../../helpers/paths.js';

/** Built by lm-evaluation-harness's own fewshot_context (scripts/reference/lm_eval_prompts.py). */
interface LmEvalCase {
  task: string;
  subset: string | null;
  shots: number;
  item: number;
  context: string;
  continuations: string[];
  gold: number;
}
const reference = JSON.parse(readFileSync(join(repoRoot, 'test', 'fixtures', 'eval', 'lm-eval-prompts.json'), 'utf8')) as { cases: LmEvalCase[] };

const dataDirs = { mmlu: join(repoRoot, 'test', 'fixtures', 'eval', 'mmlu'), superglue: join(repoRoot, 'test', 'fixtures', 'eval', 'superglue') };
const suites = {
  mmlu: loadBenchmarkSuite(join(repoRoot, 'benchmarks', 'mmlu.yaml'), { dataDir: dataDirs.mmlu }),
  superglue: loadBenchmarkSuite(join(repoRoot, 'benchmarks', 'superglue.yaml'), { dataDir: dataDirs.superglue }),
};

async function prepared(task: TaskDefinition, subset: string | null, shots: number) {
  const evaluated = await loadSplit(task, subset, task.evalSplit, suites.mmlu.tasks.includes(task) ? dataDirs.mmlu : dataDirs.superglue);
  const fewshotSplit = task.fewshot.split!;
  const pool = fewshotSplit === task.evalSplit ? evaluated : await loadSplit(task, subset, fewshotSplit, suites.mmlu.tasks.includes(task) ? dataDirs.mmlu : dataDirs.superglue);
  // The reference draws SuperGLUE examples with lm-eval's FirstNSampler (the shipped definition samples at random).
  const firstN: TaskDefinition = { ...task, fewshot: { ...task.fewshot, sampler: 'first_n' } };
  return prepareItems(firstN, subset, evaluated.items, { shots, pool: pool.items, sameSplit: fewshotSplit === task.evalSplit });
}

describe('prompts are identical to lm-evaluation-harness', () => {
  const groups = new Map<string, LmEvalCase[]>();
  for (const c of reference.cases) {
    const key = `${c.task}/${c.subset ?? ''}/${c.shots}`;
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  for (const [key, cases] of groups) {
    const { task: taskName, subset, shots } = cases[0];
    // lm-eval's MultiRC shows few-shot answers by its inverted gold (see benchmarks/superglue.yaml), so
    // only its zero-shot prompts can match.
    if (taskName === 'multirc' && shots > 0) continue;
    it(key, async () => {
      const suite = taskName === 'mmlu' ? suites.mmlu : suites.superglue;
      const task = suite.tasks.find((t) => t.name === taskName)!;
      const items = await prepared(task, subset, shots);
      assert.equal(items.length, cases.length);
      for (const c of cases) {
        const item = items[c.item];
        assert.equal(item.context, c.context, `context of item ${c.item}`);
        assert.deepEqual(
          item.choices.map((choice) => task.targetDelimiter + choice),
          c.continuations,
        );
        assert.equal(item.gold, taskName === 'multirc' ? 1 - c.gold : c.gold);
      }
    });
  }
});

describe('prepareItems', () => {
  it('random few-shot examples depend on the seed and item, never include the item itself', async () => {
    const task = suites.superglue.tasks.find((t) => t.name === 'cb')!;
    const split = await loadSplit(task, null, 'validation', dataDirs.superglue);
    const draw = (seed: number) => prepareItems({ ...task, fewshot: { ...task.fewshot, seed } }, null, split.items, { shots: 3, pool: split.items, sameSplit: true });
    const a = draw(1);
    assert.deepEqual(
      a.map((p) => p.context),
      draw(1).map((p) => p.context),
    );
    assert.notDeepEqual(
      a.map((p) => p.context),
      draw(2).map((p) => p.context),
    );
    for (const p of a) assert.equal(p.context.split(p.item.fields.premise as string).length - 1, 1, 'the item appears once: as the question');
  });
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { InvalidInputError } from '../../../src/errors.js';
import { MetricRegistry } from '../../../src/eval/evaluators/metric-registry.js';
import { parseEvalSuite } from '../../../src/eval/evaluators/suite-config.js';

const metrics = new MetricRegistry({ 'unigram-recall': () => 1 });
const parse = (yaml: string) => parseEvalSuite(parseYaml(yaml), 'suite.yaml', metrics);

test('a promptfoo-style suite loads with defaults, rendered prompts and rendered assertion values', () => {
  const suite = parse(`
description: tutor
prompts: ["{{question}} Answer:"]
tests:
  - description: capital
    vars: {question: What is the capital of Italy?, city: Rome}
    assert:
      - type: icontains
        value: "{{city}}"
      - {type: llm-rubric, value: "Names {{city}}", threshold: 0.7, weight: 2}
      - {type: unigram-recall, value: ["{{city}} is the capital"]}
  - output: '{"answer": 4}'
    assert: [{type: is-json, value: {type: object, required: [answer]}}]
`);
  assert.equal(suite.description, 'tutor');
  assert.deepEqual(suite.generation, { maxNewTokens: 64, temperature: 0, seed: 0, stop: [] });
  assert.deepEqual(suite.judge, { maxTokens: 256, temperature: 0 });
  assert.deepEqual(suite.winRate, { confidence: 0.95, resamples: 10000, seed: 0 });
  const [first, second] = suite.tests;
  assert.deepEqual(first.renderedPrompts, ['What is the capital of Italy? Answer:']);
  assert.equal(first.output, null);
  assert.equal(first.asserts[0].value, 'Rome');
  assert.deepEqual(first.asserts[1], { type: 'llm-rubric', value: 'Names Rome', threshold: 0.7, weight: 2, criteria: undefined, field: 'suite.yaml: tests[0].assert[1]' });
  assert.deepEqual(first.asserts[2].value, ['Rome is the capital']);
  assert.equal(second.description, 'test 2');
  assert.deepEqual(second.renderedPrompts, [], 'a recorded output is not generated, so its prompts are not rendered');
  assert.equal(second.input, null);
  assert.deepEqual(second.asserts[0].value, { type: 'object', required: ['answer'] });
  assert.deepEqual(suite.judgedAssertions, ['tests[0].assert[1]']);
});

test('errors name the file and the field path', () => {
  const cases: [string, RegExp][] = [
    ['tests: []', /suite\.yaml: tests: must be a non-empty list/],
    ['prompt: x\ntests: [{output: a, assert: [{type: equals, value: a}]}]', /suite\.yaml: prompt: is not a known field \(known here: description, prompts/],
    ['adapter: runs/a\ntests: [{output: a, assert: [{type: equals, value: a}]}]', /suite\.yaml: adapter: needs model:, the base model it adapts/],
    ['tests: [{output: a, assert: [{type: equals, value: a, treshold: 1}]}]', /suite\.yaml: tests\[0\]\.assert\[0\]\.treshold: is not a known field/],
    ['tests: [{output: a, assert: [{value: a}]}]', /tests\[0\]\.assert\[0\]\.type: is required/],
    ['tests: [{output: a, assert: [{type: equals, value: a}]}, {output: b, assert: [{type: llm-rubric, value: r, threshold: 2}]}]', /tests\[1\]\.assert\[0\]\.threshold: must be a score in \[0, 1\], got 2/],
    ['tests: [{output: a, assert: [{type: equals, value: a, weight: -1}]}]', /tests\[0\]\.assert\[0\]\.weight: must be >= 0/],
    ['tests: [{assert: [{type: equals, value: a}]}]', /tests\[0\]\.output: is required when the suite has no prompts/],
    ['prompts: ["{{question}}"]\ntests: [{vars: {q: x}, assert: [{type: equals, value: a}]}]', /prompts\[0\] for tests\[0\]: uses \{\{question\}\} but the test has no var "question" \(vars: q\)/],
    ['tests: [{output: a, assert: [{type: is-json, value: {$ref: x}}]}]', /tests\[0\]\.assert\[0\]\.value\.\$ref: the JSON Schema keyword "\$ref" is not supported/],
    ['tests: [{output: a, assert: [{type: bleu, value: a}]}]', /tests\[0\]\.assert\[0\]\.type: "bleu" is not an assertion type \(no metric of that name is registered/],
    ['tests: [{output: a, assert: [{type: trajectory-exact, value: [{arguments: {}}]}]}]', /tests\[0\]\.assert\[0\]\.value\[0\]\.name: is required/],
    ['tests: [{output: a, trajectory: {name: x}, assert: [{type: equals, value: a}]}]', /tests\[0\]\.trajectory: a trajectory must be a list/],
    ['tests: [{output: a, assert: [{type: equals, value: a, criteria: c}]}]', /tests\[0\]\.assert\[0\]\.criteria: only pairwise and trajectory-judge take criteria/],
    ['generation: {max_new_tokens: 0}\ntests: [{output: a, assert: [{type: equals, value: a}]}]', /generation\.max_new_tokens: must be >= 1/],
    ['win_rate: {confidence: 1}\ntests: [{output: a, assert: [{type: equals, value: a}]}]', /win_rate\.confidence: must be < 1/],
    ['tests: [{output: 5, assert: [{type: equals, value: a}]}]', /tests\[0\]\.output: must be a string, got 5/],
    ['prompts: [p]\ntests: [{input: x, assert: [{type: equals, value: a}]}]', /tests\[0\]\.input: only goes with a recorded output/],
    ['tests: [{output: a, input: "{{q}}", assert: [{type: equals, value: a}]}]', /tests\[0\]\.input: uses \{\{q\}\} but the test has no var "q"/],
    ['tests: [{output: a, assert: [{type: equals, value: a, weight: 0}]}]', /tests\[0\]\.assert: needs at least one assertion with weight > 0/],
  ];
  for (const [yaml, pattern] of cases) {
    assert.throws(() => parse(yaml), (e: unknown) => InvalidInputError.isInstance(e) && pattern.test(e.message), yaml);
  }
});

test('a recorded trajectory stands in for the output', () => {
  const suite = parse('tests: [{trajectory: [{name: search, arguments: {q: a}}], assert: [{type: trajectory-exact, value: [{name: search, arguments: {q: a}}]}]}]');
  assert.deepEqual(suite.tests[0].trajectory, [{ name: 'search', arguments: { q: 'a' } }]);
  assert.equal(suite.tests[0].output, '[{"name":"search","arguments":{"q":"a"}}]');
});

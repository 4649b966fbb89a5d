import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PromptTemplate, TemplateError } from '../../../src/eval/benchmarks/template.js';

const render = (source: string, context: Record<string, unknown>) => new PromptTemplate(source).render(context as never);

describe('prompt templates', () => {
  it('substitutes fields, indexes lists and mappings, keeps a trailing newline', () => {
    assert.equal(render('Q: {{ q }}\nA. {{choices[0]}} {{idx.question}}\n', { q: 'x', choices: ['one'], idx: { question: 3 } }), 'Q: x\nA. one 3\n');
  });

  it('strip() follows Python: U+0085 is whitespace', () => {
    assert.equal(render('{{q.strip()}}|', { q: '\u0085 theory suggests that\u0085' }), 'theory suggests that|');
  });

  it('slices by code points with negative and open bounds', () => {
    assert.equal(render('{{s[0:3]}}|{{s[:-1]}}|{{s[2:]}}', { s: '😀abc' }), '😀ab|😀ab|bc');
  });

  it('supports + , lower, replace, comparisons and inline if/else', () => {
    assert.equal(render("{{' ' + c[0].lower() + c[1:]}}", { c: 'The cat.' }), ' the cat.');
    assert.equal(render("{{s.replace('_', ' ')}}", { s: 'high_school_physics' }), 'high school physics');
    assert.equal(render("{{'because' if q == 'cause' else 'therefore'}}", { q: 'effect' }), 'therefore');
    assert.equal(render('{{0 if label == 1 else 1}}', { label: 1 }), '0');
  });

  it("split() and ' '.join(...) follow Python, so HELM's document truncation is one expression", () => {
    // Python: ' '.join('a\u0085 b\n\nc  d '.split()[:3]) == 'a b c'
    assert.equal(render("{{' '.join(d.split()[:3])}}", { d: 'a\u0085 b\n\nc  d ' }), 'a b c');
    assert.equal(render("{{'-'.join(d.split())}}", { d: '  ' }), '');
    assert.throws(() => render("{{d.split(',')}}", { d: 'a,b' }), /takes no arguments/);
    assert.throws(() => render("{{' '.join(d)}}", { d: 'ab' }), /one list of strings/);
  });

  it('lists the fields it reads', () => {
    assert.deepEqual(new PromptTemplate("{{a.strip()}} {{b[c]}} {{'x' if d == 1 else e}}").fields().sort(), ['a', 'b', 'c', 'd', 'e']);
  });

  it('an unknown field is an error naming it, not empty text', () => {
    assert.throws(
      () => render('{{missing}}', {}),
      (error: unknown) => error instanceof TemplateError && error.missingField === 'missing',
    );
  });

  it('syntax errors and statements are rejected when parsed', () => {
    assert.throws(() => new PromptTemplate('{{ a '), TemplateError);
    assert.throws(() => new PromptTemplate('{{ a.title() }}'), /unknown method/);
    assert.throws(() => new PromptTemplate('{% if a %}x{% endif %}'), /only \{\{ expressions \}\}/);
  });
});

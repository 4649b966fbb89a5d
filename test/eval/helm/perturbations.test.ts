import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../../../src/errors.js';
import { type Perturbation, perturbInstance } from '../../../src/eval/helm/perturbation.js';
import { personNamePerturbation } from '../../../src/eval/helm/person-name.js';
import { buildPerturbations } from '../../../src/eval/helm/registry.js';
import { loadPersonNames } from '../../../src/eval/helm/resources.js';
import { helmReference } from './reference-fixture.js';

function byKey(key: string): Perturbation {
  if (key === 'person_name:0.5:any_gender') {
    return personNamePerturbation(loadPersonNames(), { prob: 0.5, sourceClass: { race: 'white_american' }, targetClass: { race: 'black_american' }, preserveGender: false });
  }
  return buildPerturbations([key])[0].perturbation;
}

const apply = (key: string, text: string, id = 'id1', references: string[] = []) => perturbInstance(byKey(key), id, { input: [text], references });

describe('perturbations equal HELM\'s own (same instance ids, same texts)', () => {
  const keys = [...new Set(helmReference.perturbations.map((c) => c.perturbation))];
  for (const key of keys) {
    it(key, () => {
      const perturbation = byKey(key);
      for (const c of helmReference.perturbations.filter((r) => r.perturbation === key)) {
        const out = perturbInstance(perturbation, c.id, { input: [c.input], references: c.references });
        assert.equal(out.input[0], c.perturbed_input, `${c.id}: ${JSON.stringify(c.input)}`);
        assert.deepEqual(out.references, c.perturbed_references, `${c.id}: references of ${JSON.stringify(c.input)}`);
      }
    });
  }
});

describe('perturbation goldens on constructed strings', () => {
  it('are deterministic: the same instance id gives the same text, another id may not', () => {
    const text = 'After their marriage, she started a close collaboration with Karvelas.';
    assert.equal(apply('typos:0.3', text, 'id9').input[0], apply('typos:0.3', text, 'id9').input[0]);
    assert.notEqual(apply('typos:0.3', text, 'id9').input[0], apply('typos:0.3', text, 'id10').input[0]);
  });

  it('typos keep case, digits, punctuation and non-QWERTY letters; only letters change', () => {
    const text = 'ABC def 123, ÉÀ ß!';
    const out = apply('typos:0.5', text, 'id3').input[0];
    assert.equal(out.length, text.length);
    for (let i = 0; i < text.length; i++) {
      if (!/[a-z]/i.test(text[i])) assert.equal(out[i], text[i], `position ${i}`);
      else assert.equal(out[i] === out[i].toUpperCase(), text[i] === text[i].toUpperCase(), `case at ${i}`);
    }
    assert.equal(apply('typos:0', text).input[0], text);
  });

  it('lowercase: numbers and already lower-case text stay, final sigma is kept', () => {
    assert.equal(apply('lowercase', 'The 3 CATS, 42 mats; ΣΑΣ').input[0], 'the 3 cats, 42 mats; σας');
    assert.equal(apply('lowercase', '123 + 4.5 = ?').input[0], '123 + 4.5 = ?');
  });

  it('contraction: needs a following space, keeps the capital, leaves the last words', () => {
    assert.equal(apply('contraction', 'She is a doctor, and I am a student').input[0], "She's a doctor, and I'm a student");
    assert.equal(apply('contraction', 'It is').input[0], 'It is');
    assert.equal(apply('contraction', 'is not here').input[0], "isn't here");
    assert.equal(apply('contraction', 'cannot have it').input[0], "can't have it");
    assert.equal(apply('contraction', 'Thesis is done').input[0], 'Thesis is done');
  });

  it('expansion: first table entry wins, HELM\'s case rule for apostrophes, no partial words', () => {
    assert.equal(apply('expansion', "She's a doctor, and I'm a student").input[0], 'She is a doctor, and I am a student');
    assert.equal(apply('expansion', "can't've").input[0], "cannot've");
    assert.equal(apply('expansion', "DON'T").input[0], 'Do not');
    assert.equal(apply('expansion', "don't").input[0], 'do not');
    assert.equal(apply('expansion', "O'Neil's cant won't").input[0], "O'Neil's cant will not");
    assert.equal(apply('expansion', 'no contractions, 3.5').input[0], 'no contractions, 3.5');
  });

  it('space: only runs of ASCII spaces change, to 1..max spaces; tabs and newlines stay', () => {
    const out = apply('space:3', 'a  b   c d\tx\ny', 'id5').input[0];
    assert.match(out, /^a {1,3}b {1,3}c {1,3}d\tx\ny$/);
    assert.equal(apply('extra_space:2', 'a b  c').input[0], 'a  b    c');
  });

  it('gender pronouns: needs a delimiter on both sides, so the text\'s first and last words stay', () => {
    assert.equal(apply('gender_pronouns:1', 'He said his book was his. Then he told him').input[0], 'He said her book was her. Then she told him');
    assert.equal(apply('gender_pronouns:1', 'She and they').input[0], 'She and they');
  });

  it('dialect: whole words only (not inside hyphenated words), case kept, references too', () => {
    const out = apply('dialect:1', 'I remember my brother with-them; With you.', 'id2', ['with you ']);
    assert.match(out.input[0], /^I rememba my homeboy with-them; Wit you\.$/);
    assert.deepEqual(out.references, ['with you ']);
    assert.equal(apply('dialect:1', ' x with y', 'id2', [' with y']).references[0], ' wit y');
  });

  it('person names: the same substitute in references and input, gender kept', () => {
    const out = apply('person_name:1', 'Adam met Amanda and adam.', 'id4', ['Adam', 'AMANDA']);
    const [adam, amanda] = out.references;
    assert.notEqual(adam, 'Adam');
    assert.equal(out.input[0], `${adam} met ${amanda[0]}${amanda.slice(1).toLowerCase()} and ${adam.toLowerCase()}.`);
    const names = loadPersonNames().content;
    const gender = (n: string) => names.find((e) => e.name === n.toLowerCase())!.categories.find(([c]) => c === 'gender')![1];
    assert.equal(gender(adam), 'male');
    assert.equal(gender(amanda), 'female');
  });

  it('rejects unknown specs, bad values and duplicates', () => {
    assert.throws(() => buildPerturbations(['typo']), InvalidInputError);
    assert.throws(() => buildPerturbations(['typos:1.5']), InvalidInputError);
    assert.throws(() => buildPerturbations(['lowercase:2']), InvalidInputError);
    assert.throws(() => buildPerturbations(['space:0']), InvalidInputError);
    assert.throws(() => buildPerturbations(['typos', 'typos:0.1']), /twice/);
  });
});

import { type Perturbation, textPerturbation } from './perturbation.js';

/**
 * HELM's TyposPerturbation (helm/benchmark/augmentations/typos_perturbation.py, after NL-Augmenter's
 * butter_fingers): each letter a-z (either case) is, with probability `prob`, replaced by a key next to
 * it on a QWERTY keyboard, keeping its case. Every letter draws one `random()`; a replaced letter draws
 * one more `choice()` among its neighbours. Any other character is kept, as HELM writes it: lower-cased
 * and upper-cased back when lower-casing changed it.
 */
const NEIGHBOURS: Readonly<Record<string, string>> = {
  q: 'was', w: 'qesad', e: 'wsdfr', r: 'edfgt', t: 'rfghy', y: 'tghju', u: 'yhjki', i: 'ujklo', o: 'iklp', p: 'ol',
  a: 'qwsz', s: 'weadzx', d: 'erfcxs', f: 'rtgvcd', g: 'tyhbvf', h: 'yujnbg', j: 'uikmnh', k: 'iolmj', l: 'opk',
  z: 'asx', x: 'sdcz', c: 'dfvx', v: 'fgbc', b: 'ghnv', n: 'hjmb', m: 'jkn',
};

export function typosPerturbation(prob: number): Perturbation {
  return textPerturbation({ name: 'typos', aspect: 'robustness', version: 1, params: { prob } }, false, (text, random) => {
    let out = '';
    for (const letter of text) {
      const lower = letter.toLowerCase();
      const keys = Object.hasOwn(NEIGHBOURS, lower) ? NEIGHBOURS[lower] : undefined;
      let replaced = lower;
      if (keys !== undefined && random.random() < prob) replaced = random.choice([...keys]);
      out += lower === letter ? replaced : replaced.toUpperCase();
    }
    return out;
  });
}

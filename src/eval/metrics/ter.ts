import { checkReferences } from './references.js';
import { formatFixed } from './score-format.js';
import { formatSignature, referenceCountField } from './signature.js';
import { terTokenize, type TerTokenizerOptions } from './ter-tokenizer.js';
import { splitWhitespace, stripEnd } from './whitespace.js';

/**
 * Translation Edit Rate (Snover et al., 2006) as sacreBLEU 2.x computes it, which follows Tercom: the
 * fewest insertions, deletions, substitutions and block shifts that turn the hypothesis into the
 * reference, divided by the reference length. Shifts are found greedily with Tercom's heuristics and
 * limits, and the edit distance is searched in a beam around the diagonal, exactly as sacreBLEU does,
 * so the edit counts are sacreBLEU's (which can differ from the true minimum in rare cases).
 */

export type TerOptions = TerTokenizerOptions;

export interface TerScore {
  /** Edits per 100 reference words (0-100, and above 100 when the hypothesis needs more edits than the reference has words). */
  score: number;
  numEdits: number;
  /** Sum over segments of the average reference length. */
  refLength: number;
  signature: string;
}

const MAX_SHIFT_SIZE = 10;
const MAX_SHIFT_DISTANCE = 50;
const BEAM_WIDTH = 25;
const MAX_CACHE_SIZE = 10000;
const MAX_SHIFT_CANDIDATES = 1000;

/** Edit operations, named by what they consume. */
const MATCH = 0;
const SUBSTITUTE = 1;
/** A hypothesis word with no reference counterpart. */
const HYPOTHESIS_ONLY = 2;
/** A reference word with no hypothesis counterpart. */
const REFERENCE_ONLY = 3;
/** A cell outside the beam. */
const UNREACHED = 4;

/** One row of the edit distance matrix: the cost and the last operation per reference prefix length. */
interface Row {
  readonly cost: Float64Array;
  readonly op: Uint8Array;
}

interface CacheNode {
  readonly row: Row;
  readonly next: Map<string, CacheNode>;
}

/**
 * Edit distance from hypotheses (all of one length, as shifts keep the length) to one reference, in a
 * beam around the length-scaled diagonal. Rows are cached along hypothesis prefixes, since the shift
 * search scores many hypotheses that share a prefix.
 */
class BeamEditDistance {
  private readonly root = new Map<string, CacheNode>();
  private cacheSize = 0;
  private readonly firstRow: Row;

  constructor(private readonly reference: readonly string[]) {
    const n = reference.length + 1;
    this.firstRow = { cost: Float64Array.from({ length: n }, (_, j) => j), op: new Uint8Array(n).fill(REFERENCE_ONLY) };
  }

  /** The distance and the operations, in order from the start of both sequences. */
  distance(hypothesis: readonly string[]): { distance: number; ops: number[] } {
    const rows: Row[] = [this.firstRow];
    let level = this.root;
    for (const word of hypothesis) {
      const node = level.get(word);
      if (!node) break;
      rows.push(node.row);
      level = node.next;
    }
    const cachedRows = rows.length;
    const nHyp = hypothesis.length;
    const nRef = this.reference.length;
    const ratio = nHyp > 0 ? nRef / nHyp : 1;
    const beam = BEAM_WIDTH < ratio / 2 ? Math.ceil(ratio / 2 + BEAM_WIDTH) : BEAM_WIDTH;
    for (let i = cachedRows; i <= nHyp; i++) {
      const previous = rows[i - 1];
      const row: Row = { cost: new Float64Array(nRef + 1).fill(Infinity), op: new Uint8Array(nRef + 1).fill(UNREACHED) };
      const diagonal = Math.floor(i * ratio);
      const first = Math.max(0, diagonal - beam);
      const end = i === nHyp ? nRef + 1 : Math.min(nRef + 1, diagonal + beam);
      for (let j = first; j < end; j++) {
        if (j === 0) {
          row.cost[0] = previous.cost[0] + 1;
          row.op[0] = HYPOTHESIS_ONLY;
          continue;
        }
        // On equal costs the first of substitute/match, hypothesis-only, reference-only wins.
        const same = hypothesis[i - 1] === this.reference[j - 1];
        const candidates: [number, number][] = [
          [previous.cost[j - 1] + (same ? 0 : 1), same ? MATCH : SUBSTITUTE],
          [previous.cost[j] + 1, HYPOTHESIS_ONLY],
          [row.cost[j - 1] + 1, REFERENCE_ONLY],
        ];
        for (const [cost, op] of candidates) {
          if (row.cost[j] > cost) {
            row.cost[j] = cost;
            row.op[j] = op;
          }
        }
      }
      rows.push(row);
    }
    this.addToCache(hypothesis, rows, cachedRows);

    const ops: number[] = [];
    let i = nHyp;
    let j = nRef;
    while (i > 0 || j > 0) {
      const op = rows[i].op[j];
      ops.push(op);
      if (op === MATCH || op === SUBSTITUTE) {
        i--;
        j--;
      } else if (op === REFERENCE_ONLY) j--;
      else if (op === HYPOTHESIS_ONLY) i--;
      else throw new Error(`TER: no edit path through cell (${i}, ${j})`);
    }
    return { distance: rows[nHyp].cost[nRef], ops: ops.reverse() };
  }

  private addToCache(hypothesis: readonly string[], rows: readonly Row[], cachedRows: number): void {
    if (this.cacheSize >= MAX_CACHE_SIZE) return;
    let level = this.root;
    for (let i = 0; i < cachedRows - 1; i++) level = level.get(hypothesis[i])!.next;
    for (let i = cachedRows - 1; i < hypothesis.length; i++) {
      let node = level.get(hypothesis[i]);
      if (!node) {
        node = { row: rows[i + 1], next: new Map() };
        level.set(hypothesis[i], node);
        this.cacheSize++;
      }
      level = node.next;
    }
  }
}

/** Which hypothesis position each reference position aligns to, and which words of each side are errors. */
function alignment(ops: readonly number[]): { align: Map<number, number>; refErrors: number[]; hypErrors: number[] } {
  let hyp = -1;
  let ref = -1;
  const align = new Map<number, number>();
  const refErrors: number[] = [];
  const hypErrors: number[] = [];
  for (const op of ops) {
    if (op === MATCH || op === SUBSTITUTE) {
      hyp++;
      ref++;
      align.set(ref, hyp);
      const error = op === SUBSTITUTE ? 1 : 0;
      hypErrors.push(error);
      refErrors.push(error);
    } else if (op === HYPOTHESIS_ONLY) {
      hyp++;
      hypErrors.push(1);
    } else {
      ref++;
      align.set(ref, hyp);
      refErrors.push(1);
    }
  }
  return { align, refErrors, hypErrors };
}

/** Moves `words[start, start + length)` to before position `target`, with Tercom's arithmetic for targets inside the block. */
function performShift(words: readonly string[], start: number, length: number, target: number): string[] {
  const block = words.slice(start, start + length);
  if (target < start) return [...words.slice(0, target), ...block, ...words.slice(target, start), ...words.slice(start + length)];
  if (target > start + length) return [...words.slice(0, start), ...words.slice(start + length, target), ...block, ...words.slice(target)];
  return [...words.slice(0, start), ...words.slice(start + length, length + target), ...block, ...words.slice(length + target)];
}

/** Equal word runs of hypothesis and reference (up to 10 words, starts at most 50 apart), shortest first per start pair. */
function* matchingRuns(hyp: readonly string[], ref: readonly string[]): Generator<[number, number, number]> {
  for (let startH = 0; startH < hyp.length; startH++) {
    for (let startR = 0; startR < ref.length; startR++) {
      if (Math.abs(startR - startH) > MAX_SHIFT_DISTANCE) continue;
      let length = 0;
      while (hyp[startH + length] === ref[startR + length] && length < MAX_SHIFT_SIZE) {
        length++;
        yield [startH, startR, length];
        if (hyp.length === startH + length || ref.length === startR + length) break;
      }
    }
  }
}

const sumOf = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

/**
 * The best single shift: the largest edit-distance gain, then the longest block, the earliest block,
 * the earliest target. `checked` counts candidates across calls; the search stops at Tercom's limit.
 */
function bestShift(hyp: readonly string[], ref: readonly string[], editDistance: BeamEditDistance, checked: number): { gain: number; shifted: readonly string[]; checked: number } {
  const { distance: before, ops } = editDistance.distance(hyp);
  const { align, refErrors, hypErrors } = alignment(ops);
  let best: { key: [number, number, number, number]; shifted: string[] } | undefined;
  for (const [startH, startR, length] of matchingRuns(hyp, ref)) {
    if (sumOf(hypErrors.slice(startH, startH + length)) === 0) continue;
    if (sumOf(refErrors.slice(startR, startR + length)) === 0) continue;
    const alignedTo = align.get(startR)!;
    if (startH <= alignedTo && alignedTo < startH + length) continue;
    let previousTarget = -1;
    for (let offset = -1; offset < length; offset++) {
      let target: number;
      if (startR + offset === -1) target = 0;
      else if (align.has(startR + offset)) target = align.get(startR + offset)! + 1;
      else break;
      if (target === previousTarget) continue;
      previousTarget = target;
      const shifted = performShift(hyp, startH, length, target);
      const key: [number, number, number, number] = [before - editDistance.distance(shifted).distance, length, -startH, -target];
      checked++;
      if (!best || isGreater(key, best.key)) best = { key, shifted };
    }
    if (checked >= MAX_SHIFT_CANDIDATES) break;
  }
  return best ? { gain: best.key[0], shifted: best.shifted, checked } : { gain: 0, shifted: hyp, checked };
}

function isGreater(a: readonly number[], b: readonly number[]): boolean {
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return a[k] > b[k];
  return false;
}

/** Tercom's edit count of one tokenized hypothesis against one tokenized reference: shifts plus edit distance. */
export function terEdits(hyp: readonly string[], ref: readonly string[]): number {
  if (ref.length === 0) return hyp.length;
  const editDistance = new BeamEditDistance(ref);
  let shifts = 0;
  let current = hyp;
  let checked = 0;
  for (;;) {
    const step = bestShift(current, ref, editDistance, checked);
    checked = step.checked;
    // Tercom stops once the candidate budget is spent, without applying the shift found last.
    if (checked >= MAX_SHIFT_CANDIDATES || step.gain <= 0) break;
    shifts++;
    current = step.shifted;
  }
  return shifts + editDistance.distance(current).distance;
}

/** The fewest edits over the references, and their average length. */
function segmentStats(hypothesis: string, references: readonly string[], options: TerOptions): [number, number] {
  const words = (text: string) => splitWhitespace(terTokenize(stripEnd(text), options));
  const hyp = words(hypothesis);
  let bestEdits = Infinity;
  let refLengths = 0;
  for (const reference of references) {
    const ref = words(reference);
    refLengths += ref.length;
    bestEdits = Math.min(bestEdits, terEdits(hyp, ref));
  }
  return [bestEdits, refLengths / references.length];
}

/** The signature of TER computed with these options over segments with these reference counts. */
export function terSignature(options: TerOptions, referenceCounts: readonly number[]): string {
  return formatSignature([
    ['nrefs', referenceCountField(referenceCounts)],
    ['case', options.caseSensitive ? 'mixed' : 'lc'],
    ['tok', 'tercom'],
    ['norm', options.normalized ?? false],
    ['punct', !options.noPunct],
    ['asian', options.asianSupport ?? false],
  ]);
}

function makeScore(edits: number, refLength: number, options: TerOptions, referenceCounts: readonly number[]): TerScore {
  // An empty reference with a non-empty hypothesis counts as 100%.
  const rate = refLength > 0 ? edits / refLength : edits > 0 ? 1 : 0;
  return { score: 100 * rate, numEdits: edits, refLength, signature: terSignature(options, referenceCounts) };
}

/** Corpus TER: edits and average reference lengths summed over segments. `references[i]` holds the references of `hypotheses[i]`. */
export function corpusTer(hypotheses: readonly string[], references: readonly (readonly string[])[], options: TerOptions = {}): TerScore {
  return corpusTerFromStatistics(terSegmentStatistics(hypotheses, references, options), options, references.map((r) => r.length));
}

/** Each segment's [edits, average reference length], which corpus TER sums; see bleuSegmentStatistics. */
export function terSegmentStatistics(hypotheses: readonly string[], references: readonly (readonly string[])[], options: TerOptions = {}): [number, number][] {
  checkReferences(hypotheses, references);
  return hypotheses.map((hypothesis, i) => segmentStats(hypothesis, references[i], options));
}

/** Corpus TER of segments' statistics; `referenceCounts` (references per segment) goes into the signature. */
export function corpusTerFromStatistics(statistics: readonly (readonly [number, number])[], options: TerOptions, referenceCounts: readonly number[]): TerScore {
  let edits = 0;
  let refLength = 0;
  for (const [segmentEdits, segmentLength] of statistics) {
    edits += segmentEdits;
    refLength += segmentLength;
  }
  return makeScore(edits, refLength, options, referenceCounts);
}

export function sentenceTer(hypothesis: string, references: readonly string[], options: TerOptions = {}): TerScore {
  checkReferences([hypothesis], [references]);
  const [edits, refLength] = segmentStats(hypothesis, references, options);
  return makeScore(edits, refLength, options, [references.length]);
}

/** sacreBLEU's report line, e.g. `TER|nrefs:1|... = 61.20`. */
export function formatTer(score: TerScore, withSignature = true): string {
  return `${withSignature ? `TER|${score.signature}` : 'TER'} = ${formatFixed(score.score, 2)}`;
}

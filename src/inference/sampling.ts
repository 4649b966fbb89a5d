import { InvalidInputError } from '../errors.js';

/** How the next token is chosen. Greedy takes the argmax; sampling follows temperature → top-k → top-p. */
export type DecodingStrategy =
  | { readonly kind: 'greedy' }
  | { readonly kind: 'sample'; readonly temperature: number; readonly topK: number; readonly topP: number; readonly seed: number };

type SamplingSettings = Omit<Extract<DecodingStrategy, { kind: 'sample' }>, 'kind'>;

/** The name to give each setting in errors: the library's option names, or a command's flags. */
export type StrategyNames = Record<keyof SamplingSettings, string>;

const OPTION_NAMES: StrategyNames = { temperature: 'temperature', topK: 'topK', topP: 'topP', seed: 'seed' };

export function validateStrategy(strategy: DecodingStrategy, names: StrategyNames = OPTION_NAMES): void {
  if (strategy.kind === 'greedy') return;
  const { temperature, topK, topP, seed } = strategy;
  if (!(temperature > 0) || !Number.isFinite(temperature)) throw new InvalidInputError(names.temperature, `must be a positive number, got ${temperature}`);
  if (!Number.isInteger(topK) || topK < 0) throw new InvalidInputError(names.topK, `must be a non-negative integer (0 turns it off), got ${topK}`);
  if (!(topP > 0 && topP <= 1)) throw new InvalidInputError(names.topP, `must be in (0, 1], got ${topP}`);
  if (!Number.isSafeInteger(seed)) throw new InvalidInputError(names.seed, `must be an integer, got ${seed}`);
}

/** A small seeded generator (xoshiro128**), so a seed reproduces the same samples on every machine. */
export class SeededRandom {
  private s = new Uint32Array(4);

  constructor(seed: number) {
    // splitmix32 spreads the seed over the whole state; an all-zero state would stick at zero.
    let x = seed >>> 0 ^ Math.floor(seed / 2 ** 32);
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  /** Uniform in [0, 1). */
  next(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result / 2 ** 32;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

export function argmax(logits: Float32Array, offset = 0, length = logits.length): number {
  let best = offset;
  for (let i = offset + 1; i < offset + length; i++) if (logits[i] > logits[best]) best = i;
  return best - offset;
}

/**
 * Draws a token from one row of scores with temperature, top-k and top-p (nucleus) filtering, the warpers
 * Hugging Face applies after its logits processors; tokens a processor banned (−∞) have weight 0.
 */
export function sampleToken(logits: Float32Array, offset: number, vocab: number, strategy: Extract<DecodingStrategy, { kind: 'sample' }>, random: SeededRandom): number {
  const { temperature, topK, topP } = strategy;
  const row = logits.subarray(offset, offset + vocab);
  // A native numeric sort of the values finds the cut-off quickly even for a 250,880-token vocabulary;
  // only the tokens that survive it are then ordered by (logit, id).
  const sorted = Float32Array.from(row).sort().reverse();
  let keep = topK > 0 ? Math.min(topK, vocab) : vocab;
  const max = sorted[0];
  const weight = (logit: number) => Math.exp((logit - max) / temperature);
  if (topP < 1) {
    let total = 0;
    for (let i = 0; i < keep; i++) total += weight(sorted[i]);
    let cumulative = 0;
    for (let i = 0; i < keep; i++) {
      cumulative += weight(sorted[i]) / total;
      if (cumulative >= topP) {
        keep = i + 1;
        break;
      }
    }
  }
  const threshold = sorted[keep - 1];
  const candidates: number[] = [];
  for (let i = 0; i < vocab; i++) if (row[i] >= threshold) candidates.push(i);
  candidates.sort((a, b) => row[b] - row[a] || a - b);
  candidates.length = keep;
  let total = 0;
  for (const id of candidates) total += weight(row[id]);
  let r = random.next() * total;
  let lastPossible = candidates[0];
  for (const id of candidates) {
    const w = weight(row[id]);
    if (w > 0) lastPossible = id;
    r -= w;
    if (r < 0) return id;
  }
  // Rounding left a sliver of r: take the last candidate that can be drawn, never a banned (−∞) token.
  return lastPossible;
}

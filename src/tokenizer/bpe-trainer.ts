import { SequencePreTokenizer } from './tokenizers-library.js';

/** BLOOM's special tokens, which take ids 0..3 in this order. */
export const BLOOM_SPECIAL_TOKENS: readonly string[] = ['<unk>', '<s>', '</s>', '<pad>'];

/**
 * BLOOM's pre-tokenizer: split into runs of non-space, non-punctuation characters (each keeping one
 * leading space), with the text between them kept as pieces too; then map each piece's UTF-8 bytes
 * to GPT-2's printable byte symbols.
 */
const BLOOM_PRE_TOKENIZER = {
  type: 'Sequence',
  pretokenizers: [
    {
      type: 'Split',
      pattern: { Regex: ' ?[^(\\s|[.,!?…。，、।۔،])]+' },
      behavior: 'Isolated',
      invert: false,
    },
    { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
  ],
} as const;

export interface AddedTokenJson {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/** A Hugging Face `tokenizer.json` in the form BLOOM's is written. */
export interface BloomTokenizerJson {
  version: '1.0';
  truncation: null;
  padding: null;
  added_tokens: AddedTokenJson[];
  normalizer: null;
  pre_tokenizer: typeof BLOOM_PRE_TOKENIZER;
  post_processor: { type: 'ByteLevel'; add_prefix_space: boolean; trim_offsets: boolean; use_regex: boolean };
  decoder: { type: 'ByteLevel'; add_prefix_space: boolean; trim_offsets: boolean; use_regex: boolean };
  model: {
    type: 'BPE';
    dropout: null;
    unk_token: null;
    continuing_subword_prefix: null;
    end_of_word_suffix: null;
    fuse_unk: false;
    byte_fallback: false;
    vocab: Record<string, number>;
    merges: string[];
  };
}

/**
 * BLOOM's tokenizer_config.json. `clean_up_tokenization_spaces: false` is our addition: without it
 * transformers and @huggingface/tokenizers rewrite " ." to "." when decoding, so text would not survive
 * an encode/decode round trip.
 */
export const BLOOM_TOKENIZER_CONFIG = {
  tokenizer_class: 'BloomTokenizerFast',
  bos_token: '<s>',
  eos_token: '</s>',
  unk_token: '<unk>',
  pad_token: '<pad>',
  padding_side: 'left',
  add_prefix_space: false,
  clean_up_tokenization_spaces: false,
} as const;

export const BLOOM_SPECIAL_TOKENS_MAP = {
  bos_token: '<s>',
  eos_token: '</s>',
  unk_token: '<unk>',
  pad_token: '<pad>',
} as const;

export interface TrainOptions {
  /** Size of the finished vocabulary: special tokens, the 256 byte symbols, then one token per new merge. */
  vocabSize: number;
  /** Tokens given the first ids, in order; BLOOM's by default. */
  specialTokens?: readonly string[];
  /** A pair seen fewer times than this is never merged, so training can end below `vocabSize`. */
  minFrequency?: number;
}

/**
 * Trains a byte-level BPE vocabulary on `texts` and returns it as a BLOOM-style `tokenizer.json`.
 * Deterministic: the most frequent pair is merged first, ties going to the pair whose left, then right,
 * token sorts first by UTF-16 code units.
 */
export function trainByteLevelBpe(texts: readonly string[], options: TrainOptions): BloomTokenizerJson {
  const specialTokens = options.specialTokens ?? BLOOM_SPECIAL_TOKENS;
  const minFrequency = options.minFrequency ?? 2;
  const { vocabSize } = options;
  const smallest = specialTokens.length + BYTE_SYMBOLS.length;
  if (!Number.isSafeInteger(vocabSize) || vocabSize < smallest) {
    throw new RangeError(`vocabSize must be an integer of at least ${smallest} (special tokens + 256 byte symbols)`);
  }
  if (new Set(specialTokens).size !== specialTokens.length || specialTokens.some((token) => token === '')) {
    throw new RangeError('specialTokens must be distinct, non-empty strings');
  }

  // The 256 byte symbols follow the special tokens in code point order, as the Hugging Face trainer
  // sorts its alphabet.
  const tokens = [...specialTokens, ...[...BYTE_SYMBOLS].sort()];
  const idByToken = new Map(tokens.map((token, id) => [token, id]));
  const words = countWords(texts).map(([piece, count]) => ({
    symbols: Array.from(piece, (symbol) => {
      const id = idByToken.get(symbol);
      if (id === undefined) throw new Error(`pre-tokenizer produced ${JSON.stringify(symbol)}, not a byte symbol`);
      return id;
    }),
    count,
  }));
  const pairs = new PairStatistics(vocabSize);
  words.forEach((word, index) => pairs.add(word.symbols, word.count, index));

  const merges: string[] = [];
  while (tokens.length < vocabSize) {
    const best = pairs.mostFrequent(tokens);
    if (best === undefined || best.count < minFrequency) break;
    const merged = tokens[best.left] + tokens[best.right];
    let mergedId = idByToken.get(merged);
    if (mergedId === undefined) {
      mergedId = tokens.length;
      tokens.push(merged);
      idByToken.set(merged, mergedId);
    }
    merges.push(`${tokens[best.left]} ${tokens[best.right]}`);
    for (const index of pairs.wordsWith(best.left, best.right)) {
      const word = words[index];
      pairs.remove(word.symbols, word.count);
      word.symbols = mergePair(word.symbols, best.left, best.right, mergedId);
      pairs.add(word.symbols, word.count, index);
    }
  }

  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specialTokens.map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: BLOOM_PRE_TOKENIZER,
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: false },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: false },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      // fromEntries defines own properties, so even a token spelled "__proto__" is kept.
      vocab: Object.fromEntries(tokens.map((token, id) => [token, id])),
      merges,
    },
  };
}

/**
 * GPT-2's byte-to-unicode table: printable Latin-1 bytes stand for themselves, and the others
 * (control characters, space, ...) are shifted to U+0100 onwards so that every byte is a visible symbol.
 */
const BYTE_SYMBOLS: readonly string[] = (() => {
  const isPrintable = (byte: number) =>
    (byte >= 0x21 && byte <= 0x7e) || (byte >= 0xa1 && byte <= 0xac) || (byte >= 0xae && byte <= 0xff);
  let shifted = 0;
  return Array.from({ length: 256 }, (_, byte) =>
    String.fromCharCode(isPrintable(byte) ? byte : 0x100 + shifted++),
  );
})();

/**
 * Pre-tokenizes with the library's own BLOOM pre-tokenizer, so training sees exactly the pieces that
 * encoding will, and counts each distinct piece.
 */
function countWords(texts: readonly string[]): [string, number][] {
  const preTokenizer = new SequencePreTokenizer(BLOOM_PRE_TOKENIZER);
  const counts = new Map<string, number>();
  for (const text of texts) {
    for (const piece of preTokenizer.pre_tokenize(text)) counts.set(piece, (counts.get(piece) ?? 0) + 1);
  }
  return [...counts];
}

/** Replaces each non-overlapping occurrence of (left, right), scanning left to right. */
function mergePair(symbols: readonly number[], left: number, right: number, merged: number): number[] {
  const result: number[] = [];
  for (let i = 0; i < symbols.length; i++) {
    if (symbols[i] === left && symbols[i + 1] === right) {
      result.push(merged);
      i++;
    } else {
      result.push(symbols[i]);
    }
  }
  return result;
}

/**
 * How often each adjacent pair of symbols occurs across the corpus, and in which words, so that a merge
 * only revisits the words that contain the merged pair.
 */
class PairStatistics {
  private readonly counts = new Map<number, number>();
  private readonly wordsByPair = new Map<number, Set<number>>();

  /** Pairs are keyed as `left * idLimit + right`, exact while idLimit² stays below 2^53. */
  constructor(private readonly idLimit: number) {}

  add(symbols: readonly number[], count: number, wordIndex: number): void {
    for (let i = 0; i + 1 < symbols.length; i++) {
      const key = symbols[i] * this.idLimit + symbols[i + 1];
      this.counts.set(key, (this.counts.get(key) ?? 0) + count);
      let words = this.wordsByPair.get(key);
      if (words === undefined) this.wordsByPair.set(key, (words = new Set()));
      words.add(wordIndex);
    }
  }

  /** Word sets are left as they are: a word listed under a pair it lost is just merged without effect. */
  remove(symbols: readonly number[], count: number): void {
    for (let i = 0; i + 1 < symbols.length; i++) {
      const key = symbols[i] * this.idLimit + symbols[i + 1];
      const remaining = (this.counts.get(key) as number) - count;
      if (remaining === 0) this.counts.delete(key);
      else this.counts.set(key, remaining);
    }
  }

  /** Snapshot of the words that contain (left, right), safe to iterate while merging them. */
  wordsWith(left: number, right: number): number[] {
    return [...(this.wordsByPair.get(left * this.idLimit + right) ?? [])];
  }

  mostFrequent(tokens: readonly string[]): { left: number; right: number; count: number } | undefined {
    let best: { left: number; right: number; count: number } | undefined;
    for (const [key, count] of this.counts) {
      const left = Math.floor(key / this.idLimit);
      const right = key % this.idLimit;
      if (
        best === undefined ||
        count > best.count ||
        (count === best.count && comparePairs(tokens, left, right, best.left, best.right) < 0)
      ) {
        best = { left, right, count };
      }
    }
    return best;
  }
}

function comparePairs(tokens: readonly string[], leftA: number, rightA: number, leftB: number, rightB: number): number {
  return compareStrings(tokens[leftA], tokens[leftB]) || compareStrings(tokens[rightA], tokens[rightB]);
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

import * as library from '@huggingface/tokenizers';

/**
 * Typed view of @huggingface/tokenizers. The package's declaration files import their siblings without
 * file extensions, which NodeNext resolution cannot follow, so TypeScript sees `Tokenizer` as `any` and
 * the pre-tokenizer classes not at all. These declarations describe the parts tuneloop uses.
 */
export interface LibraryTokenizer {
  encode(text: string, options?: { add_special_tokens?: boolean }): { ids: number[]; tokens: string[] };
  decode(ids: number[], options?: { skip_special_tokens?: boolean; clean_up_tokenization_spaces?: boolean }): string;
  token_to_id(token: string): number | undefined;
  id_to_token(id: number): string | undefined;
}

export interface LibraryPreTokenizer {
  pre_tokenize(text: string): string[];
}

interface LibraryExports {
  Tokenizer: new (tokenizerJson: object, tokenizerConfig: object) => LibraryTokenizer;
  SequencePreTokenizer: new (config: object) => LibraryPreTokenizer;
}

export const { Tokenizer, SequencePreTokenizer } = library as unknown as LibraryExports;

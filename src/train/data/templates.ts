import { Template } from '@huggingface/jinja';
import { DatasetError } from '../../errors.js';
import type { ChatMessage, LocatedRecord } from './records.js';

/**
 * How a record becomes text: a prompt, which the model reads, and a completion, which it learns to write.
 * The completion's end-of-sequence token is not part of the text: tokenizeExample appends it as a token.
 */
export interface FormattedExample {
  readonly prompt: string;
  readonly completion: string;
}

/**
 * The Alpaca prompt, without its "Below is an instruction..." preamble, which costs tokens and teaches
 * nothing. The Input section is left out when the record's input is empty.
 */
export const ALPACA_PROMPT_WITH_INPUT = '### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n';
export const ALPACA_PROMPT_WITHOUT_INPUT = '### Instruction:\n{instruction}\n\n### Response:\n';

/**
 * The chat template used when none is given, in the style of Zephyr's: each message as `<|role|>` then its
 * content on the next line, assistant messages closed by the EOS token, and with `add_generation_prompt` a
 * final `<|assistant|>` line, which is where the completion starts. BLOOM has no chat tokens, so
 * `<|user|>` and the like are ordinary text to its tokenizer. (Newlines are kept out of block tags:
 * like transformers, @huggingface/jinja drops the first newline after a `{% ... %}` tag.)
 */
export const DEFAULT_CHAT_TEMPLATE =
  '{% for message in messages %}' +
  '<|{{ message.role }}|>\n{{ message.content }}{{ eos_token if message.role == "assistant" else "" }}\n' +
  '{% endfor %}' +
  '{% if add_generation_prompt %}<|assistant|>\n{% endif %}';

/** A compiled Jinja chat template, as found under `chat_template` in a tokenizer_config.json. */
export class ChatTemplate {
  private constructor(
    /** Names the template in errors: a file path, or a description such as "default chat template". */
    readonly name: string,
    private readonly template: Template,
  ) {}

  /** Throws DatasetError naming the template when its Jinja source does not parse. */
  static fromSource(source: string, name: string): ChatTemplate {
    try {
      return new ChatTemplate(name, new Template(source));
    } catch (error) {
      throw new DatasetError(name, `is not a valid Jinja chat template: ${(error as Error).message}`, {}, { cause: error });
    }
  }

  static default(): ChatTemplate {
    defaultChatTemplate ??= ChatTemplate.fromSource(DEFAULT_CHAT_TEMPLATE, 'default chat template');
    return defaultChatTemplate;
  }

  /**
   * `raise_exception(message)`, which Hugging Face templates call to reject a conversation, is built into
   * @huggingface/jinja, so a template's own refusal surfaces as a render error.
   */
  render(variables: ChatTemplateVariables): string {
    return this.template.render({ ...variables, messages: variables.messages.map((message) => ({ ...message })) });
  }
}

let defaultChatTemplate: ChatTemplate | undefined;

export interface ChatTemplateVariables {
  readonly messages: readonly ChatMessage[];
  readonly add_generation_prompt: boolean;
  readonly bos_token: string;
  readonly eos_token: string;
}

export interface FormatOptions {
  /** Renders chat records; the default chat template when absent. */
  chatTemplate?: ChatTemplate;
  /** The text of the special tokens, for templates that write them (BLOOM's are `<s>` and `</s>`). */
  bosToken?: string;
  eosToken?: string;
}

export function formatRecord({ record, location }: LocatedRecord, options: FormatOptions = {}): FormattedExample {
  switch (record.shape) {
    case 'prompt-completion':
      return { prompt: record.prompt, completion: record.completion };
    case 'instruction': {
      const template = record.input === '' ? ALPACA_PROMPT_WITHOUT_INPUT : ALPACA_PROMPT_WITH_INPUT;
      // A function replacement, so that `$&` and the like in the record's text stay literal.
      const prompt = template.replace(/\{(instruction|input)\}/g, (_, name: 'instruction' | 'input') => record[name]);
      return { prompt, completion: record.output };
    }
    case 'chat': {
      const template = options.chatTemplate ?? ChatTemplate.default();
      // records.ts guarantees the last message is the assistant's: everything before it is the prompt.
      const earlier = record.messages.slice(0, -1);
      let prompt: string;
      try {
        prompt = template.render({
          messages: earlier,
          add_generation_prompt: true,
          bos_token: options.bosToken ?? '<s>',
          eos_token: options.eosToken ?? '</s>',
        });
      } catch (error) {
        throw new DatasetError(
          location.file,
          `cannot be rendered by the chat template "${template.name}": ${(error as Error).message}`,
          { line: location.line },
          { cause: error },
        );
      }
      return { prompt, completion: record.messages[record.messages.length - 1].content };
    }
  }
}

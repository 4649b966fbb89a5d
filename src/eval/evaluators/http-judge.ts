import { STATUS_CODES } from 'node:http';
import OpenAI from 'openai';
import { InvalidInputError, JudgeEndpointError } from '../../errors.js';
import { DEFAULT_JUDGE_MAX_TOKENS, type Judge, type CompletionOptions } from './judge.js';

export interface HttpJudgeOptions {
  /**
   * The server's base URL, as the OpenAI client takes it (`http://localhost:8000/v1`); `/chat/completions`
   * is appended unless the URL already ends with it.
   */
  readonly endpoint: string;
  /** The `model` field of the request. */
  readonly model: string;
  /** Sent as `Authorization: Bearer KEY` when given. */
  readonly apiKey?: string;
  /** Milliseconds to wait for the whole answer (default 60000). */
  readonly timeoutMs?: number;
}

/**
 * A judge behind any OpenAI-compatible chat completions endpoint (OpenAI, vLLM, llama.cpp server,
 * Ollama, ...), through the `openai` client library: one user message per prompt, the first choice's
 * message content as the answer. Every failure becomes a JudgeEndpointError naming the URL: the
 * client's status, connection and timeout errors, and bodies that are not a chat completion.
 */
export class HttpJudge implements Judge {
  readonly name: string;
  private readonly url: string;
  private readonly client: OpenAI;

  constructor(private readonly options: HttpJudgeOptions) {
    this.url = chatCompletionsUrl(options.endpoint);
    this.name = `${this.url} (${options.model})`;
    this.client = new OpenAI({
      baseURL: this.url.slice(0, -'/chat/completions'.length),
      // The client insists on a key; without one, no Authorization header is sent (local servers need none).
      apiKey: options.apiKey || 'none',
      ...(options.apiKey ? {} : { defaultHeaders: { Authorization: null } }),
      timeout: options.timeoutMs ?? 60_000,
      // A judge call that fails is reported, not silently retried with a different timing.
      maxRetries: 0,
    });
  }

  async complete(prompt: string, options: CompletionOptions = {}): Promise<string> {
    const timeoutMs = this.options.timeoutMs ?? 60_000;
    let completion: unknown;
    try {
      completion = await this.client.chat.completions.create({
        model: this.options.model,
        messages: [{ role: 'user', content: prompt }],
        max_tokens: options.maxTokens ?? DEFAULT_JUDGE_MAX_TOKENS,
        temperature: options.temperature ?? 0,
        ...(options.seed === undefined ? {} : { seed: options.seed }),
        ...(options.stop && options.stop.length > 0 ? { stop: [...options.stop] } : {}),
      });
    } catch (error) {
      if (error instanceof OpenAI.APIConnectionTimeoutError) {
        throw new JudgeEndpointError(this.url, 'timeout', `no answer within ${timeoutMs} ms`, undefined, { cause: error });
      }
      if (error instanceof OpenAI.APIConnectionError) {
        const reason = (error.cause as { message?: string } | undefined)?.message ?? error.message;
        throw new JudgeEndpointError(this.url, 'network', `request failed: ${reason}`, undefined, { cause: error });
      }
      if (error instanceof OpenAI.APIError && error.status !== undefined) {
        const message = (error.error as { message?: unknown } | undefined)?.message;
        const detail = typeof message === 'string' ? message : preview(JSON.stringify(error.error ?? ''));
        throw new JudgeEndpointError(this.url, 'http-status', `HTTP ${error.status} ${STATUS_CODES[error.status] ?? ''}: ${detail}`, error.status, { cause: error });
      }
      // A JSON content type whose body does not parse.
      throw new JudgeEndpointError(this.url, 'malformed-body', `the body is not JSON: ${(error as Error).message}`, undefined, { cause: error });
    }
    return contentOf(this.url, completion);
  }
}

export function chatCompletionsUrl(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new InvalidInputError('judge endpoint', `"${endpoint}" is not a URL (expected e.g. http://localhost:8000/v1)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidInputError('judge endpoint', `"${endpoint}" must be an http or https URL`);
  const base = url.href.replace(/\/+$/, '');
  return base.endsWith('/chat/completions') ? base : `${base}/chat/completions`;
}

/**
 * The first choice's message content; anything else is a malformed body. The client hands back a
 * body that was not sent as JSON as its text.
 */
function contentOf(url: string, completion: unknown): string {
  if (typeof completion === 'string') throw new JudgeEndpointError(url, 'malformed-body', `the body is not JSON: ${preview(completion)}`);
  const choices = (completion as { choices?: unknown })?.choices;
  if (!Array.isArray(choices) || choices.length === 0) {
    throw new JudgeEndpointError(url, 'malformed-body', `the body has no "choices" list: ${preview(JSON.stringify(completion))}`);
  }
  const content = (choices[0] as { message?: { content?: unknown } })?.message?.content;
  if (typeof content !== 'string') {
    throw new JudgeEndpointError(url, 'malformed-body', `choices[0].message.content is not a string: ${preview(JSON.stringify(completion))}`);
  }
  return content;
}

function preview(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > 200 ? `${oneLine.slice(0, 200)}...` : oneLine || '(empty body)';
}

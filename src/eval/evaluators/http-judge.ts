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
 * Ollama, ...): one user message per prompt, `POST .../chat/completions`, the first choice's message
 * content as the answer. Written on Node's fetch because the `openai` package is not a dependency;
 * every failure becomes a JudgeEndpointError naming the URL.
 */
export class HttpJudge implements Judge {
  readonly name: string;
  private readonly url: string;

  constructor(private readonly options: HttpJudgeOptions) {
    this.url = chatCompletionsUrl(options.endpoint);
    this.name = `${this.url} (${options.model})`;
  }

  async complete(prompt: string, options: CompletionOptions = {}): Promise<string> {
    const body = {
      model: this.options.model,
      messages: [{ role: 'user', content: prompt }],
      max_tokens: options.maxTokens ?? DEFAULT_JUDGE_MAX_TOKENS,
      temperature: options.temperature ?? 0,
      ...(options.seed === undefined ? {} : { seed: options.seed }),
      ...(options.stop && options.stop.length > 0 ? { stop: options.stop } : {}),
    };
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    const timeoutMs = this.options.timeoutMs ?? 60_000;

    let response: Response;
    let text: string;
    try {
      // One signal covers the connection and reading the body: a server that stalls mid-body times out too.
      const signal = AbortSignal.timeout(timeoutMs);
      response = await fetch(this.url, { method: 'POST', headers, body: JSON.stringify(body), signal });
      text = await response.text();
    } catch (error) {
      const name = (error as Error).name;
      if (name === 'TimeoutError' || name === 'AbortError') {
        throw new JudgeEndpointError(this.url, 'timeout', `no answer within ${timeoutMs} ms`, undefined, { cause: error });
      }
      const reason = (error as { cause?: { message?: string } }).cause?.message ?? (error as Error).message;
      throw new JudgeEndpointError(this.url, 'network', `request failed: ${reason}`, undefined, { cause: error });
    }
    if (!response.ok) {
      throw new JudgeEndpointError(this.url, 'http-status', `HTTP ${response.status} ${response.statusText}: ${errorMessageOf(text)}`, response.status);
    }
    return contentOf(this.url, text, response.status);
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

/** The first choice's message content; anything else is a malformed body. */
function contentOf(url: string, text: string, status: number): string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new JudgeEndpointError(url, 'malformed-body', `the body is not JSON: ${preview(text)}`, status);
  }
  const choices = (json as { choices?: unknown })?.choices;
  if (!Array.isArray(choices) || choices.length === 0) {
    throw new JudgeEndpointError(url, 'malformed-body', `the body has no "choices" list: ${preview(text)}`, status);
  }
  const content = (choices[0] as { message?: { content?: unknown } })?.message?.content;
  if (typeof content !== 'string') {
    throw new JudgeEndpointError(url, 'malformed-body', `choices[0].message.content is not a string: ${preview(text)}`, status);
  }
  return content;
}

/** OpenAI-style servers put the reason under error.message; otherwise show the start of the body. */
function errorMessageOf(text: string): string {
  try {
    const message = (JSON.parse(text) as { error?: { message?: unknown } })?.error?.message;
    if (typeof message === 'string') return message;
  } catch {
    // Not JSON: the raw body is the best description there is.
  }
  return preview(text);
}

function preview(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > 200 ? `${oneLine.slice(0, 200)}...` : oneLine || '(empty body)';
}

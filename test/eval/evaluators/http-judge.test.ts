import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { InvalidInputError, JudgeEndpointError } from '../../../src/errors.js';
import { HttpJudge, chatCompletionsUrl } from '../../../src/eval/evaluators/http-judge.js';
import { gradeWithRubric } from '../../../src/eval/evaluators/llm-rubric.js';
import { chatCompletion, startChatCompletionsServer } from '../../helpers/chat-completions-server.js';

type Server = Awaited<ReturnType<typeof startChatCompletionsServer>>;
let server: Server;

// The last user message picks the server's behaviour, so one server covers every case.
before(async () => {
  server = await startChatCompletionsServer((body, res) => {
    const prompt = body.messages[body.messages.length - 1].content;
    if (prompt.includes('RATE-LIMIT')) {
      res.writeHead(429, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'Rate limit reached', type: 'requests' } }));
    } else if (prompt.includes('NOT-JSON')) {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html>gateway</html>');
    } else if (prompt.includes('NO-CHOICES')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'chat.completion', choices: [] }));
    } else if (prompt.includes('NULL-CONTENT')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ choices: [{ message: { role: 'assistant', content: null } }] }));
    } else if (prompt.includes('SLOW')) {
      setTimeout(() => res.writeHead(200).end(chatCompletion('late')), 2000).unref();
    } else if (prompt.includes('Rome')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(chatCompletion('{"reason": "correct capital", "pass": true, "score": 1}', body.model));
    } else {
      res.writeHead(200, { 'content-type': 'application/json' }).end(chatCompletion(`echo: ${prompt}`, body.model));
    }
  });
});
after(() => server.close());

test('the endpoint URL gets /chat/completions appended unless it ends with it', () => {
  assert.equal(chatCompletionsUrl('http://localhost:8000/v1'), 'http://localhost:8000/v1/chat/completions');
  assert.equal(chatCompletionsUrl('http://localhost:8000/v1/'), 'http://localhost:8000/v1/chat/completions');
  assert.equal(chatCompletionsUrl('https://api.example.com/v1/chat/completions'), 'https://api.example.com/v1/chat/completions');
  assert.throws(() => chatCompletionsUrl('localhost:8000'), (e: unknown) => InvalidInputError.isInstance(e) && /judge endpoint: "localhost:8000" must be an http or https URL/.test(e.message));
  assert.throws(() => chatCompletionsUrl('not a url'), (e: unknown) => InvalidInputError.isInstance(e) && /"not a url" is not a URL/.test(e.message));
});

test('sends an OpenAI chat completions request and returns the first choice', async () => {
  const judge = new HttpJudge({ endpoint: server.baseUrl, model: 'judge-model', apiKey: 'sk-test' });
  const answer = await judge.complete('hello judge', { maxTokens: 32, temperature: 0, seed: 5, stop: ['\n\n'] });
  assert.equal(answer, 'echo: hello judge');
  const request = server.requests[server.requests.length - 1];
  assert.equal(request.method, 'POST');
  assert.equal(request.url, '/v1/chat/completions');
  assert.equal(request.headers.authorization, 'Bearer sk-test');
  assert.equal(request.headers['content-type'], 'application/json');
  assert.deepEqual(request.body, { model: 'judge-model', messages: [{ role: 'user', content: 'hello judge' }], max_tokens: 32, temperature: 0, seed: 5, stop: ['\n\n'] });
  assert.equal(judge.name, `${server.baseUrl}/chat/completions (judge-model)`);
});

test('an llm-rubric grade through the HTTP judge', async () => {
  const judge = new HttpJudge({ endpoint: server.baseUrl, model: 'judge-model' });
  const outcome = await gradeWithRubric(judge, 'Rome', 'Names the capital of Italy');
  assert.deepEqual(outcome, { status: 'pass', score: 1, reason: 'correct capital' });
  assert.equal(server.requests[server.requests.length - 1].headers.authorization, undefined, 'no key, no header');
});

async function failure(prompt: string, timeoutMs?: number): Promise<JudgeEndpointError> {
  const judge = new HttpJudge({ endpoint: server.baseUrl, model: 'judge-model', timeoutMs });
  try {
    await judge.complete(prompt);
  } catch (error) {
    assert.ok(JudgeEndpointError.isInstance(error), String(error));
    return error;
  }
  assert.fail('expected a JudgeEndpointError');
}

test('an HTTP error status becomes a typed error with the status and the server message', async () => {
  const error = await failure('RATE-LIMIT');
  assert.equal(error.failure, 'http-status');
  assert.equal(error.status, 429);
  assert.equal(error.endpoint, `${server.baseUrl}/chat/completions`);
  assert.match(error.message, /^judge endpoint http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions: HTTP 429 Too Many Requests: Rate limit reached$/);
});

test('malformed bodies become typed errors naming what is wrong', async () => {
  const notJson = await failure('NOT-JSON');
  assert.equal(notJson.failure, 'malformed-body');
  assert.match(notJson.message, /the body is not JSON: <html>gateway<\/html>/);
  assert.match((await failure('NO-CHOICES')).message, /no "choices" list/);
  assert.match((await failure('NULL-CONTENT')).message, /choices\[0\]\.message\.content is not a string/);
});

test('a server that does not answer in time gives a timeout error', async () => {
  const error = await failure('SLOW', 200);
  assert.equal(error.failure, 'timeout');
  assert.match(error.message, /no answer within 200 ms/);
});

test('a server that is not there gives a network error naming the URL', async () => {
  const judge = new HttpJudge({ endpoint: 'http://127.0.0.1:9/v1', model: 'm', timeoutMs: 5000 });
  await assert.rejects(judge.complete('x'), (e: unknown) => JudgeEndpointError.isInstance(e) && e.failure === 'network' && e.message.startsWith('judge endpoint http://127.0.0.1:9/v1/chat/completions: request failed'));
});

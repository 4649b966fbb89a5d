import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProgressBar } from '../../src/cli/progress.js';

/** A stand-in for stderr that records what is written; `isTTY` picks the drawing mode. */
function recordingStream(isTTY: boolean): { stream: NodeJS.WriteStream; written: string[] } {
  const written: string[] = [];
  const stream = { isTTY, write: (chunk: string) => (written.push(chunk), true) } as unknown as NodeJS.WriteStream;
  return { stream, written };
}

test('a progress bar reported complete twice prints its closing line once (bench and helm logs showed it twice)', () => {
  for (const isTTY of [false, true]) {
    const { stream, written } = recordingStream(isTTY);
    const bar = new ProgressBar('mmlu: scoring', 20, stream);
    for (const done of [20, 20]) {
      bar.update(done);
      if (done === 20) bar.finish();
    }
    const closingLines = written.join('').split('\n').filter((line) => line.includes('mmlu: scoring: 20/20'));
    assert.equal(closingLines.length, 1, `isTTY ${isTTY}: ${JSON.stringify(written)}`);
    assert.ok(written.join('').endsWith('\n'), 'the output ends with the closing line');
  }
});

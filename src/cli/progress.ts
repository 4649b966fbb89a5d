/**
 * A progress bar on stderr for long work (loading, scoring). It draws in place on a terminal and prints
 * a single line at the end otherwise, so logs stay readable.
 */
export class ProgressBar {
  private readonly started = performance.now();
  private lastDraw = 0;
  private finished = false;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  /** Redraws the bar; `status` (loss, speed) follows it. */
  update(done: number, status = ''): void {
    if (!this.stream.isTTY || this.finished) return;
    const now = performance.now();
    if (done < this.total && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const width = 30;
    const filled = Math.round((done / this.total) * width);
    const elapsed = (now - this.started) / 1000;
    const eta = done > 0 ? ` ETA ${((elapsed / done) * (this.total - done)).toFixed(0)}s` : '';
    this.stream.write(`\r\x1b[K${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${this.total} ${elapsed.toFixed(1)}s${eta}${status ? `  ${status}` : ''}`);
  }

  /**
   * Prints the closing line once: callers finish when done reaches the total, and a runner may report
   * the total twice (after the last batch and again after caching it).
   */
  finish(summary = ''): void {
    if (this.finished) return;
    this.finished = true;
    const seconds = ((performance.now() - this.started) / 1000).toFixed(2);
    if (this.stream.isTTY) this.stream.write('\r\x1b[K');
    this.stream.write(`${this.label}: ${this.total}/${this.total} in ${seconds}s${summary ? ` (${summary})` : ''}\n`);
  }
}

/** Writes a progress or timing line to stderr, keeping stdout for results. */
export function note(message: string): void {
  process.stderr.write(`${message}\n`);
}

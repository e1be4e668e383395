const tty = process.stderr.isTTY === true;
const LINE_EVERY_MS = tty ? 200 : 5000;

export function formatCount(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return String(Math.round(n));
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  const m = Math.floor(s / 60);
  return m >= 60
    ? `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`
    : `${m}:${String(s % 60).padStart(2, '0')}`;
}

/** Progress of one phase on stderr: one updating line on a terminal, a line every few seconds otherwise. */
export class Progress {
  private readonly started = performance.now();
  private lastDraw = 0;
  private done = 0;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly unit = 'records',
  ) {}

  update(done: number, force = false): void {
    this.done = done;
    const now = performance.now();
    if (!force && now - this.lastDraw < LINE_EVERY_MS) return;
    this.lastDraw = now;
    const elapsed = (now - this.started) / 1000;
    const rate = elapsed > 0 ? done / elapsed : 0;
    const pct = this.total > 0 ? (100 * done) / this.total : 100;
    const eta = rate > 0 ? (this.total - done) / rate : Infinity;
    const line =
      `${this.label}: ${pct.toFixed(1)}% ${formatCount(done)}/${formatCount(this.total)} ${this.unit}, ` +
      `${formatCount(rate)} ${this.unit}/s, elapsed ${formatDuration(elapsed)}, ETA ${formatDuration(eta)}`;
    process.stderr.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
  }

  /** Draws the final state and ends the line; returns the seconds the phase took. */
  finish(): number {
    this.update(this.done, true);
    if (tty) process.stderr.write('\n');
    return (performance.now() - this.started) / 1000;
  }
}

export function note(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

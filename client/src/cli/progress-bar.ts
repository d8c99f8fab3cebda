import type { Clock } from '../core/clock.js';
import type { UploadProgress } from '../publisher/progress.js';
import { formatBytes } from './format.js';
import type { OutputStream } from './io.js';

/** Uploads smaller than this finish too fast for a bar to be worth drawing. */
export const PROGRESS_BAR_MIN_BYTES = 4 * 1024 * 1024;
const REDRAW_EVERY_MS = 100;
const BAR_WIDTH = 30;

/** One line: `[##########--------------------]  33%  10.0 MiB / 30.0 MiB`. Pure. */
export function renderProgressLine(progress: UploadProgress, width = BAR_WIDTH): string {
  const fraction = progress.totalBytes === 0 ? 1 : Math.min(1, progress.sentBytes / progress.totalBytes);
  const filled = Math.round(fraction * width);
  const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${percent}  ${formatBytes(progress.sentBytes)} / ${formatBytes(progress.totalBytes)}`;
}

/**
 * Redraws the progress line in place (carriage return) at most every 100 ms, and always at 100%. When
 * the stream is not a terminal, each redraw is a line of its own so logs stay readable.
 */
export class ProgressBar {
  readonly #stream: OutputStream;
  readonly #clock: Clock;
  readonly #label: string;
  readonly #minBytes: number;
  #lastDraw = Number.NEGATIVE_INFINITY;
  #drawn = false;
  #done = false;

  /** Uploads whose total is below `minBytes` draw nothing (their size is known only once they start). */
  constructor(stream: OutputStream, clock: Clock, label: string, minBytes = 0) {
    this.#stream = stream;
    this.#clock = clock;
    this.#label = label;
    this.#minBytes = minBytes;
  }

  update(progress: UploadProgress): void {
    if (this.#done || progress.totalBytes < this.#minBytes) return;
    const complete = progress.sentBytes >= progress.totalBytes;
    const now = this.#clock.now();
    if (!complete && now - this.#lastDraw < REDRAW_EVERY_MS) return;
    this.#lastDraw = now;
    const line = `${this.#label} ${renderProgressLine(progress)}`;
    this.#stream.write(this.#stream.isTTY ? `\r${line}` : `${line}\n`);
    this.#drawn = true;
    if (complete) this.finish();
  }

  /** Ends the line so later output starts on a fresh one. Idempotent. */
  finish(): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#drawn && this.#stream.isTTY) this.#stream.write('\n');
  }
}

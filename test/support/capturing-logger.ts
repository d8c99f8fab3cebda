import type { ClientLogger } from '../../client/src/consumer/index.js';

/** A client logger that keeps every line, for assertions on what the client reported. */
export class CapturingLogger implements ClientLogger {
  readonly lines: { level: string; obj: Record<string, unknown>; msg?: string | undefined }[] = [];
  debug = (obj: object, msg?: string) => this.lines.push({ level: 'debug', obj: obj as never, msg });
  info = (obj: object, msg?: string) => this.lines.push({ level: 'info', obj: obj as never, msg });
  warn = (obj: object, msg?: string) => this.lines.push({ level: 'warn', obj: obj as never, msg });
  error = (obj: object, msg?: string) => this.lines.push({ level: 'error', obj: obj as never, msg });
}

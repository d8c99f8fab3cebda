import type { ClientLogger } from '../consumer/logger.js';
import { systemClock } from '../core/clock.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

/**
 * JSON lines on a stream (stderr by default), pino-shaped (`level`, `time`, `msg`, fields), so log
 * shippers treat the sidecar like the server. Errors are reduced to message and code.
 */
export function jsonLogger(
  level: LogLevel,
  write: (line: string) => void = (line) => process.stderr.write(line),
  now: () => number = () => systemClock.now(),
): ClientLogger {
  const at = (name: Exclude<LogLevel, 'silent'>) => {
    if (RANK[name] < RANK[level]) return () => undefined;
    return (obj: object, msg?: string) => {
      const fields: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(obj)) fields[k] = v instanceof Error ? errorFields(v) : v;
      write(`${JSON.stringify({ level: name, time: now(), name: 'meshpress-sidecar', msg, ...fields })}\n`);
    };
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

function errorFields(error: Error): Record<string, unknown> {
  const code = (error as { code?: unknown }).code;
  return { type: error.name, message: error.message, ...(code === undefined ? {} : { code }) };
}

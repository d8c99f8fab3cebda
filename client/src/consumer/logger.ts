/** The subset of a pino logger the client uses; pass a pino instance (or a child) as is. */
export interface ClientLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const silent = () => undefined;

export const silentLogger: ClientLogger = Object.freeze({
  debug: silent,
  info: silent,
  warn: silent,
  error: silent,
});

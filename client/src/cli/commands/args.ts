import { UsageError } from '../usage-error.js';

/** A version number argument: a positive integer, else a usage error naming the command. */
export function versionArg(text: string, command: string): number {
  if (!/^\d{1,15}$/.test(text) || Number(text) < 1)
    throw new UsageError(`'${text}' is not a version number (a positive integer)`, command);
  return Number(text);
}

import { z } from 'zod';

const present = (what: string) =>
  z.custom<object>((value) => typeof value === 'object' && value !== null, { message: `expected ${what}` });

/**
 * What every periodic task (fallback writer, janitor) is given, validated once when it starts; each task
 * extends it with its own settings.
 */
export const periodicTaskOptionsSchema = z.object({
  store: present('a ConfigStore'),
  blobs: present('a BlobStore'),
  clock: present('a Clock'),
  logger: present('a pino Logger'),
  leadership: present('a Leadership').optional(),
  /** Delay before the first scheduled run; defaults to the interval. */
  initialDelayMs: z.number().int().min(0).optional(),
  /** Names this instance in logs. */
  instanceId: z.string().min(1).optional(),
});

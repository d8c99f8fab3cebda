import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { buildRestApp, type RestAppOptions } from '../../server/src/rest/app.js';
import type { serviceHarness } from './service-harness.js';

/** The REST adapter over a service harness, quiet and always ready; `options` override any setting. */
export function restAppOn(
  h: Awaited<ReturnType<typeof serviceHarness>>,
  options: Partial<RestAppOptions> = {},
): FastifyInstance {
  return buildRestApp({
    service: h.service,
    metrics: h.metrics,
    logger: pino({ level: 'silent' }),
    version: 'test',
    exposeOpenApi: false,
    isReady: () => true,
    ...options,
  });
}

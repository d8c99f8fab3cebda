import Fastify from 'fastify';

/**
 * Baseline of the REST poll benchmark: Fastify's hello-world route with Fastify's defaults (no logger),
 * as in Fastify's own benchmarks. Prints its address, then serves until SIGTERM.
 */
const app = Fastify({ logger: false });
app.get('/', async () => ({ hello: 'world' }));
const address = await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`hello-http listening ${address}\n`);
process.on('SIGTERM', () => {
  void app.close().then(() => process.exit(0));
});

import Fastify from 'fastify';

/**
 * Diagnostic for the REST poll benchmark: the poll's POST with the same JSON bodies, parsed by Fastify and
 * answered 204 with nothing done (Fastify defaults, no logger, like hello-world). Its distance from
 * hello-world is what a JSON POST costs; its distance from the real poll is meshpress's own work.
 */
const app = Fastify({ logger: false });
app.post('/v1/poll', async (_request, reply) => reply.code(204).send());
const address = await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`noop-post listening ${address}\n`);
process.on('SIGTERM', () => {
  void app.close().then(() => process.exit(0));
});

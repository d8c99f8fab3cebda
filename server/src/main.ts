import { MeshpressError, ValidationError } from '@meshpress/client';
import { configFromEnv } from './config.js';
import { startServer } from './server.js';

/** `npm start`: the embedded server, configured from MESHPRESS_* environment variables. */
async function main(): Promise<void> {
  let config: ReturnType<typeof configFromEnv>;
  try {
    config = configFromEnv();
  } catch (err) {
    process.stderr.write(`meshpress: ${err instanceof MeshpressError ? err.message : String(err)}\n`);
    process.exit(2);
  }
  const server = await startServer(config);
  process.stdout.write(
    `meshpress listening: REST ${server.httpUrl}  gRPC ${server.grpcAddress}  (data in ${config.dataDir})\n`,
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`meshpress: ${signal} received, shutting down\n`);
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`meshpress: shutdown failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  // A value configFromEnv let through but a backend refused is a configuration error too: exit 2.
  if (err instanceof ValidationError) {
    process.stderr.write(`meshpress: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`meshpress: failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});

#!/usr/bin/env node
import { MeshpressError } from '../core/errors.js';
import { parseSidecarConfig } from './config.js';
import { configInputFromArgs, flagOf, usage } from './flags.js';
import { jsonLogger } from './logger.js';
import { startSidecar } from './sidecar.js';

/** `meshpress-sidecar`: configured by flags and MESHPRESS_SIDECAR_* variables; exits 2 on bad options. */
async function main(): Promise<void> {
  const args = configInputFromArgs(process.argv.slice(2), process.env);
  if (args.kind === 'help') {
    process.stdout.write(usage());
    return;
  }
  if (args.kind === 'error') {
    process.stderr.write(`meshpress-sidecar: ${args.message}\n\n${usage()}`);
    process.exit(2);
  }
  let config: ReturnType<typeof parseSidecarConfig>;
  try {
    config = parseSidecarConfig(args.input);
  } catch (error) {
    const issues = (error as { issues?: { path: string; message: string }[] }).issues ?? [];
    const lines = issues.length
      ? issues.map(
          (i) =>
            `  ${flagOf(i.path.split('.')[0]!)}${i.path.includes('.') ? `[${i.path.split('.').slice(1).join('.')}]` : ''}: ${i.message}`,
        )
      : [`  ${String((error as Error).message)}`];
    process.stderr.write(`meshpress-sidecar: invalid options\n${lines.join('\n')}\n`);
    process.exit(2);
  }

  const logger = jsonLogger(config.logLevel);
  // The client's timers are unref'd and nothing listens until startup ends: without this handle Node
  // would find its event loop empty while the first poll backs off, and exit 0 mid-startup.
  const keepAlive = setInterval(() => undefined, 60_000);
  const sidecar = await startSidecar(config, { logger }).finally(() => clearInterval(keepAlive));
  const versions = [
    config.routesTopic && `routes ${config.routesTopic}@${sidecar.core.outbound.state.version ?? 'none'}`,
    config.policyTopic && `policy ${config.policyTopic}@${sidecar.core.inbound.state.version ?? 'none'}`,
  ].filter(Boolean);
  process.stdout.write(
    `meshpress-sidecar listening: outbound ${sidecar.outboundUrl ?? 'off'}  inbound ${sidecar.inboundUrl ?? 'off'}  admin ${sidecar.adminUrl}  (${versions.join(', ')})\n`,
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'draining');
    sidecar.close().then(
      ({ drained }) => {
        logger.info({ drained }, 'stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => {
  const text =
    error instanceof MeshpressError
      ? error.message
      : error instanceof Error
        ? (error.stack ?? error.message)
        : String(error);
  process.stderr.write(`meshpress-sidecar: failed to start: ${text}\n`);
  process.exit(1);
});

#!/usr/bin/env node
import { EXIT } from './exit-codes.js';
import { Interrupt, ignoreBrokenPipe } from './io.js';
import { runCli } from './run.js';

// The AWS SDK warns on every run under Node 20 about its future requirements; a CLI user cannot act on it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

ignoreBrokenPipe(process.stdout);
ignoreBrokenPipe(process.stderr);

const interrupt = new Interrupt();
const onSignal = () => {
  if (!interrupt.trigger()) process.exit(EXIT.interrupted);
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

process.exitCode = await runCli(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  interrupt,
});
process.off('SIGINT', onSignal);
process.off('SIGTERM', onSignal);

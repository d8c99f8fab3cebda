import { z } from 'zod';
import { systemClock } from '../../core/clock.js';
import { IntegrityError, InternalError, TooManyRequestsError, UnavailableError } from '../../core/errors.js';
import { sleep } from '../../publisher/abortable-sleep.js';
import { retryDelayMs } from '../../publisher/retry-delay.js';
import type { PollUpdate } from '../../wire/rest-views.js';
import type { Command, CommandContext } from '../command.js';
import { parseFlags } from '../flag-parsing.js';
import { formatBytes, formatTime, shortSha } from '../format.js';
import { writeFully } from '../io.js';
import { IDENTITY_OPTIONS } from '../option-table.js';
import { versionJson } from '../views.js';
import { describeIdentity, identityFrom } from './identity-flags.js';

export const DEFAULT_WATCH_WAIT_MS = 30_000;
/**
 * The shortest time between two polls that brought nothing: an answer that comes back at once (`--wait
 * 0`, a draining server) is not asked again at once, which would be a busy loop against the server.
 */
export const MIN_WATCH_CYCLE_MS = 1_000;
const RETRY_BASE_MS = 500;
const RETRY_MAX_MS = 30_000;

const watchFlags = z.object({
  '--wait': z.coerce.number().int().min(0).max(120_000).default(DEFAULT_WATCH_WAIT_MS),
});

export const watch: Command = {
  name: 'watch',
  summary: 'print each version an identity receives, until Ctrl-C',
  synopsis: '<topic>',
  minArgs: 1,
  maxArgs: 1,
  options: [...IDENTITY_OPTIONS, 'wait', 's3-bucket', 's3-endpoint', 's3-path-style', 's3-prefix'],
  details: [
    'Long-polls the server as a proxy with that identity would, downloads each new version, verifies its',
    'sha256 and prints it: first the version the identity gets now, then every change (pins included).',
    'A version that fails verification is reported on stderr and skipped. --wait 0 polls without holding,',
    'at most once a second. With --json each version is one',
    'line of JSON. Example: meshpress watch mesh.prod.routes --app checkout --region eu-west-1 --node i-0abc',
  ].join('\n'),
  async run(ctx) {
    const { '--wait': waitMs } = parseFlags(watchFlags, { '--wait': ctx.flags.wait }, this.name);
    const topic = ctx.args[0]!;
    const identity = identityFrom(ctx.flags);
    const admin = ctx.admin();
    // An unknown topic would simply never update: say so at once instead.
    await admin.getTopic(topic);
    ctx.io.interrupt.handleGracefully();
    const stop = ctx.io.interrupt.signal;
    if (!ctx.json)
      await writeFully(
        ctx.io.stderr,
        `watching ${topic} as ${describeIdentity(identity)} (Ctrl-C to stop)\n`,
      );

    let current: number | undefined;
    let failures = 0;
    while (!stop.aborted) {
      try {
        const began = systemClock.now();
        const updates = await admin.poll(identity, [{ topic, currentVersion: current }], {
          waitMs,
          signal: stop,
        });
        failures = 0;
        const update = updates.find((u) => u.topic === topic);
        if (!update || !isNewer(update, current)) {
          const left = MIN_WATCH_CYCLE_MS - (systemClock.now() - began);
          if (left > 0) await sleep(systemClock, left, stop).catch(() => undefined);
          continue;
        }
        const data = await admin.payloadOf(update.record, { signal: stop });
        current = update.version;
        await report(ctx, update, data.byteLength);
      } catch (error) {
        if (stop.aborted) break;
        if (!isTransient(error)) throw error;
        const delay = retryDelayMs(failures++, RETRY_BASE_MS, RETRY_MAX_MS, Math.random);
        const message = error instanceof Error ? error.message : String(error);
        await writeFully(
          ctx.io.stderr,
          `meshpress: watch: ${message}; retrying in ${(delay / 1000).toFixed(1)} s\n`,
        );
        await sleep(systemClock, delay, stop).catch(() => undefined);
      }
    }
    return undefined;
  },
};

/** The never-go-backwards rule: a lower or equal version only when the server marks it pinned and it differs. */
function isNewer(update: PollUpdate, current: number | undefined): boolean {
  if (current === undefined) return true;
  return update.version > current || (update.pinned && update.version !== current);
}

/**
 * Worth retrying: the service is down, busy or failing, or a download was corrupt (the last good version
 * stays). Anything else (a bad flag value the server refused) ends the watch.
 */
function isTransient(error: unknown): boolean {
  return (
    error instanceof UnavailableError ||
    error instanceof TooManyRequestsError ||
    error instanceof IntegrityError ||
    error instanceof InternalError
  );
}

async function report(ctx: CommandContext, update: PollUpdate, size: number): Promise<void> {
  const record = update.record;
  const appliedAt = systemClock.now();
  if (ctx.json) {
    const line = {
      topic: update.topic,
      version: update.version,
      pinned: update.pinned,
      appliedAt: new Date(appliedAt).toISOString(),
      record: versionJson(record),
    };
    await writeFully(ctx.io.stdout, `${JSON.stringify(line)}\n`);
    return;
  }
  const pinned = update.pinned ? '  pinned' : '';
  await ctx.print(
    `${formatTime(appliedAt)}  ${update.topic}  version ${update.version}  ${formatBytes(size)}  sha256 ${shortSha(record.sha256)}  ${record.contentType}${pinned}`,
  );
}

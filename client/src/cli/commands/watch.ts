import { z } from 'zod';
import { type Clock, systemClock } from '../../core/clock.js';
import { IntegrityError, InternalError, TooManyRequestsError, UnavailableError } from '../../core/errors.js';
import { sleep } from '../../publisher/abortable-sleep.js';
import { retryDelayMs } from '../../publisher/retry-delay.js';
import type { PollUpdate } from '../../wire/rest-views.js';
import type { Command, CommandContext } from '../command.js';
import { parseFlags } from '../flag-parsing.js';
import { formatBytes, formatTime, printable, shortSha } from '../format.js';
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
    'A version that fails verification is reported on stderr and skipped until a newer version or a pin',
    'arrives; a failing server or download is retried with jittered backoff growing to 30 s. --wait 0',
    'polls without holding, at most once a second. With --json each version is one line of JSON.',
    'Example: meshpress watch mesh.prod.routes --app checkout --region eu-west-1 --node i-0abc',
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

    const clock = ctx.io.clock ?? systemClock;
    const random = ctx.io.random ?? Math.random;
    const retry = async (error: unknown, attempt: number) => {
      const delay = retryDelayMs(attempt, RETRY_BASE_MS, RETRY_MAX_MS, random);
      await warn(ctx, `${messageOf(error)}; retrying in ${(delay / 1000).toFixed(1)} s`);
      await sleep(clock, delay, stop).catch(() => undefined);
    };

    let current: number | undefined;
    // The version the polls claim to have: the one printed last, or one skipped since, so that the server
    // holds the poll instead of offering the skipped version again.
    let have: number | undefined;
    let pollFailures = 0;
    // Counted per version and kept across the polls in between: those succeed at once (the server offers
    // the same version again), and resetting on them kept every retry under half a second.
    let failing = { version: -1, count: 0 };
    while (!stop.aborted) {
      let update: PollUpdate | undefined;
      try {
        const began = clock.now();
        const updates = await admin.poll(identity, [{ topic, currentVersion: have }], {
          waitMs,
          signal: stop,
        });
        pollFailures = 0;
        update = updates.find((u) => u.topic === topic);
        if (!update || !isNewer(update, current)) {
          // Only after a skip: the server moved to the version already printed (a pin), nothing to show.
          if (update) have = update.version;
          const left = MIN_WATCH_CYCLE_MS - (clock.now() - began);
          if (left > 0) await sleep(clock, left, stop).catch(() => undefined);
          continue;
        }
      } catch (error) {
        if (stop.aborted) break;
        if (!isTransient(error)) throw error;
        await retry(error, pollFailures++);
        continue;
      }
      let size: number;
      try {
        size = (await admin.payloadOf(update.record, { signal: stop })).byteLength;
      } catch (error) {
        if (stop.aborted) break;
        if (error instanceof IntegrityError) {
          // The bytes stored for this version are wrong and stay wrong: downloading them again helps nobody.
          have = update.version;
          await warn(
            ctx,
            `${messageOf(error)}; version ${update.version} skipped, waiting for a newer version or a pin`,
          );
          continue;
        }
        if (!isTransient(error)) throw error;
        if (failing.version !== update.version) failing = { version: update.version, count: 0 };
        await retry(error, failing.count++);
        continue;
      }
      current = have = update.version;
      failing = { version: -1, count: 0 };
      await report(ctx, clock, update, size);
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
 * Worth retrying: the service is down, busy or failing. Anything else (a bad flag value the server
 * refused) ends the watch. A corrupt download is neither: its version is skipped.
 */
function isTransient(error: unknown): boolean {
  return (
    error instanceof UnavailableError ||
    error instanceof TooManyRequestsError ||
    error instanceof InternalError
  );
}

function warn(ctx: CommandContext, message: string): Promise<void> {
  return writeFully(ctx.io.stderr, `meshpress: watch: ${printable(message)}\n`);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function report(ctx: CommandContext, clock: Clock, update: PollUpdate, size: number): Promise<void> {
  const record = update.record;
  const appliedAt = clock.now();
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
    `${formatTime(appliedAt)}  ${update.topic}  version ${update.version}  ${formatBytes(size)}  sha256 ${shortSha(record.sha256)}  ${printable(record.contentType)}${pinned}`,
  );
}

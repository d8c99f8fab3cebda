import { z } from 'zod';
import type { Command } from '../command.js';
import { parseFlags } from '../flag-parsing.js';
import { formatTime, renderTable } from '../format.js';
import { pinEventJson, pinJson } from '../views.js';
import { versionArg } from './args.js';

const pinFlags = z.object({
  '--scope': z.array(z.string()).max(1, 'give one scope per pin').optional(),
  '--reason': z.string().optional(),
});

function flagsOf(ctx: Parameters<Command['run']>[0], command: string) {
  const flags = parseFlags(pinFlags, { '--scope': ctx.flags.scope, '--reason': ctx.flags.reason }, command);
  return {
    ...(flags['--scope']?.[0] === undefined ? {} : { scope: flags['--scope'][0] }),
    ...(flags['--reason'] === undefined ? {} : { reason: flags['--reason'] }),
  };
}

export const pin: Command = {
  name: 'pin',
  summary: 'force the identities of a scope (default *: everyone) to a version',
  synopsis: '<topic> <version>',
  minArgs: 2,
  maxArgs: 2,
  options: ['scope', 'reason'],
  details:
    'A pin overrides versions published while it stands, and can move consumers back to an older version.\n' +
    'Example: meshpress pin mesh.prod.routes 41 --scope region=eu-west-1 --reason "v42 breaks checkout"',
  async run(ctx) {
    const record = await ctx
      .admin()
      .pin(ctx.args[0]!, versionArg(ctx.args[1]!, this.name), flagsOf(ctx, this.name));
    if (ctx.json) await ctx.printJson(pinJson(record));
    else await ctx.print(`pinned ${ctx.args[0]} scope ${record.scope} to version ${record.version}`);
    return undefined;
  },
};

export const unpin: Command = {
  name: 'unpin',
  summary: 'remove the pin of a scope (default *)',
  synopsis: '<topic>',
  minArgs: 1,
  maxArgs: 1,
  options: ['scope', 'reason'],
  details:
    'With --json prints { "removed": true | false | null }: null when no pin stands now but a first attempt\n' +
    'that timed out may have removed it before the retry found nothing.',
  async run(ctx) {
    const options = flagsOf(ctx, this.name);
    const { removed } = await ctx.admin().unpin(ctx.args[0]!, options);
    const scope = options.scope ?? '*';
    if (ctx.json) await ctx.printJson({ removed });
    else
      await ctx.print(
        removed === true
          ? `removed the pin of scope ${scope} on ${ctx.args[0]}`
          : removed === false
            ? `no pin on scope ${scope} of ${ctx.args[0]}`
            : // A retry after a timeout found nothing: the timed-out attempt may have been the one that removed it.
              `no pin in place now on scope ${scope} of ${ctx.args[0]} (an earlier attempt that got no answer may have removed it, or there was none)`,
      );
    return undefined;
  },
};

const DEFAULT_HISTORY_LIMIT = 20;

// The server returns at most 1000 events in one answer and has no paging: more is a usage error here.
const historyFlags = z.object({
  '--limit': z.coerce.number().int().min(1).max(1000).default(DEFAULT_HISTORY_LIMIT),
});

export const pinHistory: Command = {
  name: 'pin-history',
  summary: "a topic's pins set and removed, newest first",
  synopsis: '<topic>',
  minArgs: 1,
  maxArgs: 1,
  options: ['limit'],
  details: `Shows the newest ${DEFAULT_HISTORY_LIMIT} changes unless --limit says otherwise (at most 1000).`,
  async run(ctx) {
    const { '--limit': limit } = parseFlags(historyFlags, { '--limit': ctx.flags.limit }, this.name);
    const events = await ctx.admin().pinHistory(ctx.args[0]!, { limit });
    if (ctx.json) {
      await ctx.printJson({ topic: ctx.args[0], events: events.map(pinEventJson) });
      return undefined;
    }
    if (events.length === 0) {
      await ctx.print('no pin changes');
      return undefined;
    }
    await ctx.print(
      renderTable(
        [
          { header: 'TIME' },
          { header: 'SCOPE' },
          { header: 'CHANGE' },
          { header: 'AUTHOR' },
          { header: 'REASON' },
        ],
        events.map((e) => [
          formatTime(e.at),
          e.scope,
          e.version === undefined ? 'unpinned' : `pinned to v${e.version}`,
          e.author,
          e.reason,
        ]),
      ),
    );
    return undefined;
  },
};

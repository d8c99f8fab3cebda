import type { Command } from '../command.js';
import { formatBytes, formatTime, renderFields } from '../format.js';
import { IDENTITY_OPTIONS } from '../option-table.js';
import { versionJson } from '../views.js';
import { describeIdentity, identityFrom } from './identity-flags.js';

export const resolveCommand: Command = {
  name: 'resolve',
  summary: 'the version an identity gets now, or got at an instant',
  synopsis: '<topic>',
  minArgs: 1,
  maxArgs: 1,
  options: [...IDENTITY_OPTIONS, 'at'],
  details:
    'Pins whose scope matches win (most specific first); otherwise the newest version published to a\n' +
    'matching scope. Example: meshpress resolve mesh.prod.routes --app checkout --region eu-west-1 --node i-0abc',
  async run(ctx) {
    const identity = identityFrom(ctx.flags);
    const at = typeof ctx.flags.at === 'string' ? ctx.flags.at : undefined;
    const answer = await ctx.admin().resolve(ctx.args[0]!, identity, at);
    if (ctx.json) {
      await ctx.printJson({
        topic: ctx.args[0],
        identity,
        target: answer
          ? {
              version: answer.version,
              pinned: answer.pinned,
              scope: answer.scope,
              ...(answer.record ? { record: versionJson(answer.record) } : {}),
            }
          : null,
      });
      return undefined;
    }
    if (!answer) {
      await ctx.print(`no version of ${ctx.args[0]} applies to ${describeIdentity(identity)}`);
      return undefined;
    }
    const record = answer.record;
    await ctx.print(
      renderFields([
        ['identity', describeIdentity(identity)],
        ['version', String(answer.version)],
        ['why', answer.pinned ? `pinned by scope ${answer.scope}` : `published to scope ${answer.scope}`],
        ['size', record ? formatBytes(record.size) : undefined],
        ['sha256', record?.sha256],
        ['created', record ? formatTime(record.createdAt) : undefined],
      ]),
    );
    return undefined;
  },
};

import type { Command } from '../command.js';
import { UsageError } from '../usage-error.js';
import { versionJson } from '../views.js';
import { versionArg } from './args.js';

export const scopesAdd: Command = {
  name: 'scopes add',
  summary: 'make an existing version visible to more scopes',
  synopsis: '<topic> <version>',
  minArgs: 2,
  maxArgs: 2,
  options: ['scope'],
  details:
    'Example: meshpress scopes add mesh.prod.routes 42 --scope region=us-east-1 --scope region=ap-south-1',
  async run(ctx) {
    const scopes = Array.isArray(ctx.flags.scope) ? ctx.flags.scope : [];
    if (scopes.length === 0) throw new UsageError('give at least one --scope', this.name);
    const record = await ctx.admin().addScopes(ctx.args[0]!, versionArg(ctx.args[1]!, this.name), scopes);
    if (ctx.json) await ctx.printJson(versionJson(record));
    else
      await ctx.print(
        `version ${record.version} of ${record.topic} is published to: ${record.scopes.map((s) => s.scope).join(', ')}`,
      );
    return undefined;
  },
};

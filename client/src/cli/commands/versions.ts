import { rename, rm, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import type { VersionRecord } from '../../core/model.js';
import type { Command } from '../command.js';
import { parseFlags } from '../flag-parsing.js';
import { formatBytes, formatMetadata, formatTime, renderFields, renderTable, shortSha } from '../format.js';
import { writeFully } from '../io.js';
import { UsageError } from '../usage-error.js';
import { versionJson } from '../views.js';
import { versionArg } from './args.js';

const DEFAULT_LIST_LIMIT = 20;

const listFlags = z.object({
  '--limit': z.coerce.number().int().min(1).default(DEFAULT_LIST_LIMIT),
  '--before': z.coerce.number().int().min(1).optional(),
});

export const versionsList: Command = {
  name: 'versions list',
  summary: "a topic's history, newest first",
  synopsis: '<topic>',
  minArgs: 1,
  maxArgs: 1,
  options: ['limit', 'before'],
  details: `Shows the newest ${DEFAULT_LIST_LIMIT} versions unless --limit says otherwise.`,
  async run(ctx) {
    const flags = parseFlags(
      listFlags,
      { '--limit': ctx.flags.limit, '--before': ctx.flags.before },
      this.name,
    );
    const versions: VersionRecord[] = [];
    const iterator = ctx.admin().listVersions(ctx.args[0]!, {
      ...(flags['--before'] === undefined ? {} : { before: flags['--before'] }),
      pageSize: Math.min(flags['--limit'], 500),
    });
    for await (const version of iterator) {
      versions.push(version);
      if (versions.length >= flags['--limit']) break;
    }
    if (ctx.json) {
      await ctx.printJson({ versions: versions.map(versionJson) });
      return undefined;
    }
    if (versions.length === 0) {
      await ctx.print('no versions');
      return undefined;
    }
    await ctx.print(
      renderTable(
        [
          { header: 'VERSION', right: true },
          { header: 'CREATED' },
          { header: 'SIZE', right: true },
          { header: 'SHA256' },
          { header: 'STORED' },
          { header: 'PUBLISHER' },
          { header: 'SCOPES' },
        ],
        versions.map((v) => [
          String(v.version),
          formatTime(v.createdAt),
          formatBytes(v.size),
          shortSha(v.sha256),
          v.pointer.kind,
          v.publisher,
          v.scopes.map((s) => s.scope).join(' '),
        ]),
      ),
    );
    return undefined;
  },
};

export const versionsShow: Command = {
  name: 'versions show',
  summary: "one version's record",
  synopsis: '<topic> <version>',
  minArgs: 2,
  maxArgs: 2,
  options: [],
  async run(ctx) {
    const record = await ctx.admin().getVersion(ctx.args[0]!, versionArg(ctx.args[1]!, this.name));
    if (ctx.json) {
      await ctx.printJson(versionJson(record));
      return undefined;
    }
    const p = record.pointer;
    const stored =
      p.kind === 's3'
        ? `s3: ${p.locations.map((l) => `s3://${l.bucket}/${l.key} (${l.region})`).join(', ')}`
        : p.kind === 'local'
          ? `server blob store (${p.key})`
          : 'inline';
    await ctx.print(
      renderFields([
        ['topic', record.topic],
        ['version', String(record.version)],
        ['created', formatTime(record.createdAt)],
        ['committed', formatTime(record.committedAt)],
        ['publisher', record.publisher],
        ['size', `${formatBytes(record.size)} (${record.size} bytes)`],
        ['sha256', record.sha256],
        ['content type', record.contentType],
        ['stored', stored],
        ['metadata', formatMetadata(record.metadata)],
        ['scopes', record.scopes.map((s) => `${s.scope} (since ${formatTime(s.addedAt)})`).join(', ')],
      ]),
    );
    return undefined;
  },
};

export const versionsDownload: Command = {
  name: 'versions download',
  summary: "a version's payload, verified against its sha256",
  synopsis: '<topic> <version>',
  minArgs: 2,
  maxArgs: 2,
  options: ['out', 's3-bucket', 's3-endpoint', 's3-path-style', 's3-prefix'],
  details:
    'Writes the payload to stdout, or to --out (atomically: a temporary file renamed into place).\n' +
    'S3 payloads are read from the --s3-bucket regions first when given, else through the server.',
  async run(ctx) {
    const out = typeof ctx.flags.out === 'string' ? ctx.flags.out : undefined;
    if (ctx.json && out === undefined)
      throw new UsageError('--json needs --out (the payload itself goes to stdout otherwise)', this.name);
    const { record, data } = await ctx.admin().download(ctx.args[0]!, versionArg(ctx.args[1]!, this.name));
    if (out === undefined) {
      await writeFully(ctx.io.stdout, data);
      return undefined;
    }
    const temporary = `${out}.meshpress-${process.pid}.tmp`;
    try {
      await writeFile(temporary, data);
      await rename(temporary, out);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
    if (ctx.json)
      await ctx.printJson({
        topic: record.topic,
        version: record.version,
        size: record.size,
        sha256: record.sha256,
        out,
      });
    else
      await ctx.print(
        `wrote ${formatBytes(record.size)} to ${out} (sha256 ${shortSha(record.sha256)} verified)`,
      );
    return undefined;
  },
};

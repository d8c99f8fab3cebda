import { z } from 'zod';
import { TopicNotFoundError } from '../../core/errors.js';
import type { TopicRecord } from '../../core/model.js';
import type { TopicSpec } from '../../publisher/admin-inputs.js';
import type { MeshpressAdmin } from '../../publisher/admin.js';
import type { Command } from '../command.js';
import { parseFlags } from '../flag-parsing.js';
import { formatRetention, formatTime, renderFields, renderTable } from '../format.js';
import { pinJson, topicJson } from '../views.js';

const createFlags = z.object({
  '--kind': z.enum(['mesh.routes.v1', 'mesh.policy.v1']).optional(),
  '--max-versions': z.coerce.number().int().min(1).optional(),
  '--max-age-days': z.coerce.number().positive().optional(),
  '--description': z.string().optional(),
});

export const topicsCreate: Command = {
  name: 'topics create',
  summary: 'create a topic, or change the given settings of an existing one',
  synopsis: '<topic>',
  minArgs: 1,
  maxArgs: 1,
  options: ['kind', 'max-versions', 'max-age-days', 'description', 'replace'],
  details: [
    'A new topic gets the settings given; without --max-versions or --max-age-days the server keeps the',
    'newest 100 versions. On an existing topic only the settings given change, the others are kept;',
    'either retention flag replaces the whole retention (--max-age-days alone drops --max-versions).',
    '--replace sets exactly the settings given instead: the others go back to their defaults (no kind,',
    'no description, 100 versions).',
    'Example: meshpress topics create mesh.prod.inventory.routes --kind mesh.routes.v1 --max-versions 50',
  ].join('\n'),
  async run(ctx) {
    const flags = parseFlags(
      createFlags,
      {
        '--kind': ctx.flags.kind,
        '--max-versions': ctx.flags['max-versions'],
        '--max-age-days': ctx.flags['max-age-days'],
        '--description': ctx.flags.description,
      },
      this.name,
    );
    const retention = {
      ...(flags['--max-versions'] === undefined ? {} : { maxVersions: flags['--max-versions'] }),
      ...(flags['--max-age-days'] === undefined ? {} : { maxAgeDays: flags['--max-age-days'] }),
    };
    const spec: TopicSpec = {
      ...(Object.keys(retention).length === 0 ? {} : { retention }),
      ...(flags['--kind'] === undefined ? {} : { kind: flags['--kind'] }),
      ...(flags['--description'] === undefined ? {} : { description: flags['--description'] }),
    };
    const { topic, created } = await createOrUpdate(
      ctx.admin(),
      ctx.args[0]!,
      spec,
      ctx.flags.replace === true,
    );
    if (ctx.json) await ctx.printJson({ created, topic: topicJson(topic) });
    else
      await ctx.print(
        `${created ? 'created' : 'updated'} topic ${topic.name} (${topic.kind ?? 'opaque bytes'}, keeps ${formatRetention(topic.retention)})`,
      );
    return undefined;
  },
};

/**
 * A PUT replaces every setting, so on an existing topic one that was not given (a kind: document
 * validation) would silently go back to its default. updateTopic keeps them.
 */
async function createOrUpdate(
  admin: MeshpressAdmin,
  name: string,
  spec: TopicSpec,
  replace: boolean,
): Promise<{ topic: TopicRecord; created: boolean }> {
  if (replace) return admin.createTopic(name, spec);
  try {
    return { topic: await admin.updateTopic(name, spec), created: false };
  } catch (error) {
    if (!(error instanceof TopicNotFoundError)) throw error;
    return admin.createTopic(name, spec);
  }
}

const listFlags = z.object({ '--limit': z.coerce.number().int().min(1).optional() });

export const topicsList: Command = {
  name: 'topics list',
  summary: 'list topics in name order',
  synopsis: '',
  minArgs: 0,
  maxArgs: 0,
  options: ['limit'],
  async run(ctx) {
    const { '--limit': limit } = parseFlags(listFlags, { '--limit': ctx.flags.limit }, this.name);
    const topics: TopicRecord[] = [];
    for await (const topic of ctx.admin().listTopics({ pageSize: Math.min(limit ?? 500, 500) })) {
      topics.push(topic);
      if (limit !== undefined && topics.length >= limit) break;
    }
    if (ctx.json) {
      await ctx.printJson({ topics: topics.map(topicJson) });
      return undefined;
    }
    if (topics.length === 0) {
      await ctx.print('no topics');
      return undefined;
    }
    await ctx.print(
      renderTable(
        [
          { header: 'NAME' },
          { header: 'KIND' },
          { header: 'LATEST', right: true },
          { header: 'RETENTION' },
          { header: 'UPDATED' },
          { header: 'DESCRIPTION' },
        ],
        topics.map((t) => [
          t.name,
          t.kind ?? '-',
          String(t.latestVersion),
          formatRetention(t.retention),
          formatTime(t.updatedAt),
          t.description ?? '',
        ]),
      ),
    );
    return undefined;
  },
};

export const topicsShow: Command = {
  name: 'topics show',
  summary: "show a topic's settings and pins",
  synopsis: '<topic>',
  minArgs: 1,
  maxArgs: 1,
  options: [],
  async run(ctx) {
    const { topic, pins } = await ctx.admin().getTopic(ctx.args[0]!);
    if (ctx.json) {
      await ctx.printJson({ topic: topicJson(topic), pins: pins.map(pinJson) });
      return undefined;
    }
    const fields = renderFields([
      ['name', topic.name],
      ['kind', topic.kind ?? 'none (opaque bytes)'],
      ['description', topic.description],
      ['retention', formatRetention(topic.retention)],
      ['latest', topic.latestVersion === 0 ? 'never published' : String(topic.latestVersion)],
      ['created', formatTime(topic.createdAt)],
      ['updated', formatTime(topic.updatedAt)],
    ]);
    const pinBlock =
      pins.length === 0
        ? 'pins: none'
        : `pins:\n${renderTable(
            [
              { header: 'SCOPE' },
              { header: 'VERSION', right: true },
              { header: 'AUTHOR' },
              { header: 'SET' },
              { header: 'REASON' },
            ],
            pins.map((p) => [p.scope, String(p.version), p.author, formatTime(p.setAt), p.reason]),
          )}`;
    await ctx.print(`${fields}\n\n${pinBlock}`);
    return undefined;
  },
};

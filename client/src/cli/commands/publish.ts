import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { systemClock } from '../../core/clock.js';
import { ValidationError } from '../../core/errors.js';
import { contentTypeProblem } from '../../publisher/content-type.js';
import { parseJsonDocument } from '../../publisher/json-document.js';
import { type NoAnswerError, PublishOutcomeUnknownError } from '../../publisher/no-answer-error.js';
import { contentTypeForPath, type PublishPayload } from '../../publisher/payload-input.js';
import { decodeUtf8Text } from '../../publisher/utf8-text.js';
import { yamlToJson } from '../../publisher/yaml-document.js';
import type { UploadProgress } from '../../publisher/progress.js';
import type { Command, CommandContext } from '../command.js';
import { keyValuePairs, parseFlags } from '../flag-parsing.js';
import { formatBytes, shortSha } from '../format.js';
import { readAll } from '../io.js';
import { PROGRESS_BAR_MIN_BYTES, ProgressBar } from '../progress-bar.js';
import { UsageError } from '../usage-error.js';
import { versionJson } from '../views.js';

const publishFlags = z.object({
  '--scope': z.array(z.string()).optional(),
  '--metadata': z.array(z.string()).optional(),
  '--content-type': z.string().optional(),
  '--progress': z.enum(['auto', 'always', 'never']).default('auto'),
});

export const publish: Command = {
  name: 'publish',
  summary: 'publish a version from a file or stdin',
  synopsis: '<topic> <file|->',
  minArgs: 2,
  maxArgs: 2,
  options: [
    'scope',
    'metadata',
    'content-type',
    'yaml',
    'json-input',
    'progress',
    'inline-limit',
    's3-bucket',
    's3-endpoint',
    's3-path-style',
    's3-prefix',
  ],
  details: [
    'Reads the payload from <file>, or from stdin when it is -. Files ending in .json, .yaml/.yml and .txt',
    'get a matching content type; anything else is application/octet-stream unless --content-type says.',
    '--yaml converts a YAML document to JSON before publishing it; --json-input checks a JSON document.',
    'Payloads above the inline limit are uploaded to the --s3-bucket buckets (every one of them) and',
    'published as an S3 pointer; without buckets the server stores them.',
    '',
    'Examples:',
    '  meshpress publish mesh.prod.routes routes.yaml --yaml --scope region=eu-west-1 -m change=CHG-42',
    '  generate-config | meshpress publish mesh.prod.routes - --content-type application/json',
  ].join('\n'),
  async run(ctx) {
    const flags = parseFlags(
      publishFlags,
      {
        '--scope': ctx.flags.scope,
        '--metadata': ctx.flags.metadata,
        '--content-type': ctx.flags['content-type'],
        '--progress': ctx.flags.progress,
      },
      this.name,
    );
    if (ctx.flags.yaml === true && ctx.flags['json-input'] === true)
      throw new UsageError('--yaml and --json-input cannot be combined', this.name);
    checkContentType(flags['--content-type']);
    const [topic, source] = ctx.args as [string, string];
    const metadata = Object.fromEntries(keyValuePairs(flags['--metadata'] ?? [], '--metadata', this.name));
    const { payload, contentType } = await readPayload(ctx, source);
    const bar = progressBar(ctx, flags['--progress'], topic);
    try {
      const record = await ctx.admin().publish(topic, payload, {
        ...(flags['--scope'] === undefined ? {} : { scopes: flags['--scope'] }),
        ...(flags['--metadata'] === undefined ? {} : { metadata }),
        ...((flags['--content-type'] ?? contentType) === undefined
          ? {}
          : { contentType: flags['--content-type'] ?? contentType }),
        ...(bar ? { onProgress: (p: UploadProgress) => bar.update(p) } : {}),
      });
      bar?.finish();
      if (ctx.json) await ctx.printJson(versionJson(record));
      else
        await ctx.print(
          `published ${record.topic} version ${record.version} (${formatBytes(record.size)}, sha256 ${shortSha(record.sha256)}, ` +
            `${record.pointer.kind}, scopes ${record.scopes.map((s) => s.scope).join(' ')})`,
        );
      return undefined;
    } catch (error) {
      // Retrying at once, as exit 5 invites, would publish the same bytes as a second version.
      if (error instanceof PublishOutcomeUnknownError)
        throw new PublishOutcomeUnknownError(
          error.cause as NoAnswerError,
          topic,
          `check with 'meshpress versions list ${topic} --limit 5'`,
        );
      throw error;
    } finally {
      bar?.finish();
    }
  },
};

/**
 * Before anything is read or sent: a content type the server would store but no HTTP header can carry
 * failed as "cannot reach the server" (exit 5, retried forever by pipelines). Exit 4, like a bad scope.
 */
function checkContentType(value: string | undefined): void {
  const problem = value === undefined ? undefined : contentTypeProblem(value);
  if (problem)
    throw new ValidationError(`invalid --content-type (${problem})`, [
      { path: '--content-type', message: problem },
    ]);
}

/** The payload and the content type its source suggests (a file's extension; documents are JSON). */
async function readPayload(
  ctx: CommandContext,
  source: string,
): Promise<{ payload: PublishPayload; contentType?: string }> {
  const bytes = source === '-' ? await readAll(ctx.io.stdin) : await readFileBytes(source);
  if (ctx.flags.yaml === true)
    return { payload: { document: await yamlToJson(decodeUtf8Text(bytes, 'YAML')) } };
  if (ctx.flags['json-input'] === true)
    return { payload: { document: parseJsonDocument(decodeUtf8Text(bytes, 'JSON')) } };
  return source === '-' ? { payload: bytes } : { payload: bytes, contentType: contentTypeForPath(source) };
}

async function readFileBytes(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (cause) {
    throw new UsageError(
      `cannot read '${path}' (${(cause as NodeJS.ErrnoException).code ?? cause})`,
      'publish',
    );
  }
}

function progressBar(
  ctx: CommandContext,
  mode: 'auto' | 'always' | 'never',
  topic: string,
): ProgressBar | undefined {
  if (mode === 'never' || (mode === 'auto' && !ctx.io.stderr.isTTY)) return undefined;
  const minBytes = mode === 'always' ? 0 : PROGRESS_BAR_MIN_BYTES;
  return new ProgressBar(ctx.io.stderr, systemClock, `uploading to ${topic}`, minBytes);
}

import { z } from 'zod';
import { serverUrlProblem } from '../core/safe-url.js';
import type { MeshpressAdminOptions } from '../publisher/admin-options.js';
import { keyValuePairs, parseFlags } from './flag-parsing.js';
import type { FlagValues } from './option-table.js';

export const DEFAULT_CLI_URL = 'http://127.0.0.1:8080';

const CALLER = /^[A-Za-z0-9._:@/-]{1,128}$/;
const callerMessage = '1-128 characters of A-Z a-z 0-9 . _ : @ / -';
const optionalNumber = (min: number) => z.coerce.number().int().min(min).optional();

const configSchema = z.object({
  '--url': z.url({ protocol: /^https?$/, message: 'expected an http(s) URL' }).superRefine((url, ctx) => {
    const problem = serverUrlProblem(url);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
  '--principal': z.string().regex(CALLER, callerMessage).optional(),
  '--caller-app': z.string().regex(CALLER, callerMessage).optional(),
  '--timeout': optionalNumber(1),
  '--inline-limit': optionalNumber(0),
  '--s3-endpoint': z.url({ message: 'expected a URL' }).optional(),
  '--s3-prefix': z.string().optional(),
});

/**
 * The MeshpressAdmin options a command line describes: flags first, then MESHPRESS_* environment
 * variables, then defaults. S3 credentials come from the AWS SDK's usual chain (AWS_ACCESS_KEY_ID, …).
 */
export function adminOptionsFrom(
  flags: FlagValues,
  env: Readonly<Record<string, string | undefined>>,
  command: string,
): MeshpressAdminOptions {
  const pick = (flag: keyof FlagValues, variable: string) => {
    const value = flags[flag];
    return typeof value === 'string' ? value : nonEmpty(env[variable]);
  };
  const raw = {
    '--url': pick('url', 'MESHPRESS_URL') ?? DEFAULT_CLI_URL,
    '--principal': pick('principal', 'MESHPRESS_PRINCIPAL'),
    '--caller-app': pick('caller-app', 'MESHPRESS_APP'),
    '--timeout': pick('timeout', 'MESHPRESS_TIMEOUT_MS'),
    '--inline-limit': pick('inline-limit', 'MESHPRESS_INLINE_LIMIT_BYTES'),
    '--s3-endpoint': pick('s3-endpoint', 'MESHPRESS_S3_ENDPOINT'),
    '--s3-prefix': pick('s3-prefix', 'MESHPRESS_S3_PREFIX'),
  };
  const config = parseFlags(configSchema, raw, command);
  const bucketFlags = Array.isArray(flags['s3-bucket']) ? flags['s3-bucket'] : [];
  const bucketEntries =
    bucketFlags.length > 0
      ? bucketFlags
      : (nonEmpty(env.MESHPRESS_S3_BUCKETS)
          ?.split(',')
          .map((s) => s.trim())
          .filter(Boolean)
          // The server writes region:bucket; accept that form here too.
          .map((s) => (s.includes('=') ? s : s.replace(':', '='))) ?? []);
  const pathStyle =
    flags['s3-path-style'] === true ||
    /^(1|true)$/i.test(env.MESHPRESS_S3_PATH_STYLE ?? env.MESHPRESS_S3_FORCE_PATH_STYLE ?? '');
  const buckets = keyValuePairs(bucketEntries, '--s3-bucket', command).map(([region, bucket]) => ({
    region,
    bucket,
    ...(config['--s3-endpoint'] === undefined ? {} : { endpoint: config['--s3-endpoint'] }),
    ...(pathStyle ? { forcePathStyle: true } : {}),
  }));
  return {
    baseUrl: config['--url'],
    ...(config['--principal'] === undefined ? {} : { principal: config['--principal'] }),
    ...(config['--caller-app'] === undefined ? {} : { app: config['--caller-app'] }),
    ...(config['--timeout'] === undefined ? {} : { timeoutMs: config['--timeout'] }),
    ...(config['--inline-limit'] === undefined ? {} : { inlineLimitBytes: config['--inline-limit'] }),
    ...(buckets.length === 0
      ? {}
      : {
          s3: {
            buckets,
            ...(config['--s3-prefix'] === undefined ? {} : { prefix: config['--s3-prefix'] }),
          },
        }),
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

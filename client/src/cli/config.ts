import { z } from 'zod';
import { serverUrlProblem } from '../core/safe-url.js';
import type { MeshpressAdminOptions } from '../publisher/admin-options.js';
import { keyValuePairs, parseFlags } from './flag-parsing.js';
import type { FlagValues } from './option-table.js';

export const DEFAULT_CLI_URL = 'http://127.0.0.1:8080';

const CALLER = /^[A-Za-z0-9._:@/-]{1,128}$/;
const callerMessage = '1-128 characters of A-Z a-z 0-9 . _ : @ / -';
const wholeNumber = (min: number, unit: string) =>
  z
    .string()
    .regex(/^\d+$/, `expected a whole number of ${unit}`)
    .transform(Number)
    .pipe(z.number().int().min(min, `expected a whole number of ${unit}, at least ${min}`))
    .optional();

/** Each setting with the flag and the environment variable that give it, and how to check it. */
const SETTINGS = {
  url: {
    env: 'MESHPRESS_URL',
    schema: z.url({ protocol: /^https?$/, message: 'expected an http(s) URL' }).superRefine((url, ctx) => {
      const problem = serverUrlProblem(url);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  },
  principal: { env: 'MESHPRESS_PRINCIPAL', schema: z.string().regex(CALLER, callerMessage).optional() },
  'caller-app': { env: 'MESHPRESS_APP', schema: z.string().regex(CALLER, callerMessage).optional() },
  timeout: { env: 'MESHPRESS_TIMEOUT_MS', schema: wholeNumber(1, 'milliseconds') },
  'inline-limit': { env: 'MESHPRESS_INLINE_LIMIT_BYTES', schema: wholeNumber(0, 'bytes') },
  's3-endpoint': { env: 'MESHPRESS_S3_ENDPOINT', schema: z.url({ message: 'expected a URL' }).optional() },
  's3-prefix': { env: 'MESHPRESS_S3_PREFIX', schema: z.string().optional() },
} as const satisfies Partial<Record<keyof FlagValues, { env: string; schema: z.ZodType }>>;

type Setting = keyof typeof SETTINGS;
type Settings = { [K in Setting]: z.output<(typeof SETTINGS)[K]['schema']> };

/**
 * The MeshpressAdmin options a command line describes: flags first, then MESHPRESS_* environment
 * variables, then defaults. S3 credentials come from the AWS SDK's usual chain (AWS_ACCESS_KEY_ID, …).
 * A bad value is reported under the name it came from: a user who typed no --timeout must be told
 * about MESHPRESS_TIMEOUT_MS.
 */
export function adminOptionsFrom(
  flags: FlagValues,
  env: Readonly<Record<string, string | undefined>>,
  command: string,
): MeshpressAdminOptions {
  const shape: Record<string, z.ZodType> = {};
  const raw: Record<string, string | undefined> = {};
  const labels = {} as Record<Setting, string>;
  for (const name of Object.keys(SETTINGS) as Setting[]) {
    const { env: variable, schema } = SETTINGS[name];
    const flag = flags[name];
    const label = typeof flag === 'string' ? `--${name}` : variable;
    labels[name] = label;
    shape[label] = schema;
    raw[label] = typeof flag === 'string' ? flag : nonEmpty(env[variable]);
  }
  raw[labels.url] ??= DEFAULT_CLI_URL;
  const parsed = parseFlags(z.object(shape), raw, command) as Record<string, unknown>;
  const config = Object.fromEntries(
    (Object.keys(SETTINGS) as Setting[]).map((name) => [name, parsed[labels[name]]]),
  ) as Settings;
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
  const bucketSource = bucketFlags.length > 0 ? '--s3-bucket' : 'MESHPRESS_S3_BUCKETS';
  const pathStyle =
    flags['s3-path-style'] === true ||
    /^(1|true)$/i.test(env.MESHPRESS_S3_PATH_STYLE ?? env.MESHPRESS_S3_FORCE_PATH_STYLE ?? '');
  const buckets = keyValuePairs(bucketEntries, bucketSource, command).map(([region, bucket]) => ({
    region,
    bucket,
    ...(config['s3-endpoint'] === undefined ? {} : { endpoint: config['s3-endpoint'] }),
    ...(pathStyle ? { forcePathStyle: true } : {}),
  }));
  return {
    baseUrl: config.url,
    ...(config.principal === undefined ? {} : { principal: config.principal }),
    ...(config['caller-app'] === undefined ? {} : { app: config['caller-app'] }),
    ...(config.timeout === undefined ? {} : { timeoutMs: config.timeout }),
    ...(config['inline-limit'] === undefined ? {} : { inlineLimitBytes: config['inline-limit'] }),
    ...(buckets.length === 0
      ? {}
      : {
          s3: {
            buckets,
            ...(config['s3-prefix'] === undefined ? {} : { prefix: config['s3-prefix'] }),
          },
        }),
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

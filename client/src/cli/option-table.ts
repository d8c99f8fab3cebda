/** Every flag the CLI knows, with its help text. Commands list the ones they accept (see command.ts). */
export const OPTIONS = {
  // Global.
  url: {
    type: 'string',
    value: 'url',
    help: 'server base URL (env MESHPRESS_URL; default http://127.0.0.1:8080)',
  },
  principal: {
    type: 'string',
    value: 'name',
    help: 'who you are, recorded as publisher / pin author (env MESHPRESS_PRINCIPAL)',
  },
  'caller-app': {
    type: 'string',
    value: 'app',
    help: 'calling application, for server rate limits (env MESHPRESS_APP)',
  },
  timeout: {
    type: 'string',
    value: 'ms',
    help: 'per-request timeout in milliseconds (env MESHPRESS_TIMEOUT_MS; default 30000)',
  },
  json: { type: 'boolean', help: 'print machine-readable JSON instead of tables' },
  help: { type: 'boolean', short: 'h', help: 'show help' },
  // S3 (publish above the inline limit, download s3 pointers).
  's3-bucket': {
    type: 'string',
    multiple: true,
    value: 'region=bucket',
    help: 'upload large payloads to this regional bucket; repeatable (env MESHPRESS_S3_BUCKETS, comma-separated)',
  },
  's3-endpoint': {
    type: 'string',
    value: 'url',
    help: 'S3 endpoint for every bucket, e.g. MinIO (env MESHPRESS_S3_ENDPOINT)',
  },
  's3-path-style': { type: 'boolean', help: 'path-style S3 addressing (env MESHPRESS_S3_PATH_STYLE=true)' },
  's3-prefix': {
    type: 'string',
    value: 'prefix',
    help: 'key prefix inside the buckets (env MESHPRESS_S3_PREFIX)',
  },
  'inline-limit': {
    type: 'string',
    value: 'bytes',
    help: 'payloads above this size go to S3 when buckets are given (env MESHPRESS_INLINE_LIMIT_BYTES; default 1048576)',
  },
  progress: {
    type: 'string',
    value: 'auto|always|never',
    help: 'upload progress bar on stderr (default auto: when stderr is a terminal)',
  },
  // Topics.
  kind: {
    type: 'string',
    value: 'kind',
    help: 'document kind the topic validates: mesh.routes.v1 or mesh.policy.v1',
  },
  'max-versions': { type: 'string', value: 'n', help: 'retention: keep the newest n versions' },
  'max-age-days': { type: 'string', value: 'days', help: 'retention: keep versions younger than this' },
  description: { type: 'string', value: 'text', help: 'free text shown in listings' },
  replace: {
    type: 'boolean',
    help: 'set exactly the settings given; the others go back to their defaults',
  },
  // Publishing and scopes.
  scope: {
    type: 'string',
    multiple: true,
    value: 'scope',
    help: 'scope such as region=eu-west-1,app=checkout, or * (default)',
  },
  metadata: {
    type: 'string',
    multiple: true,
    short: 'm',
    value: 'key=value',
    help: 'metadata entry; repeatable',
  },
  'content-type': { type: 'string', value: 'type', help: 'content type of the payload' },
  yaml: { type: 'boolean', help: 'the input is a YAML document: publish it as JSON' },
  'json-input': {
    type: 'boolean',
    help: 'the input is a JSON document: check it parses, publish it as JSON',
  },
  // Listings.
  limit: { type: 'string', value: 'n', help: 'show at most n entries' },
  before: { type: 'string', value: 'version', help: 'start below this version' },
  // Download.
  out: {
    type: 'string',
    short: 'o',
    value: 'file',
    help: 'write the payload to this file (default: stdout)',
  },
  // Pins.
  reason: { type: 'string', value: 'text', help: 'why, recorded with the change' },
  // Identity (resolve, watch).
  app: { type: 'string', value: 'app', help: 'identity: application' },
  cluster: { type: 'string', value: 'cluster', help: 'identity: cluster' },
  region: { type: 'string', value: 'region', help: 'identity: region' },
  node: { type: 'string', value: 'node', help: 'identity: node id' },
  env: { type: 'string', value: 'env', help: 'identity: environment' },
  at: { type: 'string', value: 'time', help: 'resolve as of this instant (RFC 3339 or epoch ms)' },
  // Watch.
  wait: { type: 'string', value: 'ms', help: 'long-poll wait per request (default 30000)' },
} as const satisfies Record<string, OptionSpec>;

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly multiple?: boolean;
  readonly short?: string;
  readonly value?: string;
  readonly help: string;
}

export type OptionName = keyof typeof OPTIONS;

export const GLOBAL_OPTIONS: readonly OptionName[] = [
  'url',
  'principal',
  'caller-app',
  'timeout',
  'json',
  'help',
];
export const S3_OPTIONS: readonly OptionName[] = ['s3-bucket', 's3-endpoint', 's3-path-style', 's3-prefix'];
export const IDENTITY_OPTIONS: readonly OptionName[] = ['app', 'cluster', 'region', 'node', 'env'];

/** Parsed flag values: strings, booleans, or string arrays for repeatable flags. */
export type FlagValues = Partial<Record<OptionName, string | boolean | string[]>>;

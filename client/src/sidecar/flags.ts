import type { SidecarConfigInput } from './config.js';

type ConfigKey = keyof SidecarConfigInput;

export interface FlagSpec {
  readonly flag: string;
  readonly key: ConfigKey;
  readonly env: string;
  readonly help: string;
  /** Repeatable, and comma-separated in the environment. */
  readonly list?: boolean;
}

const ENV_PREFIX = 'MESHPRESS_SIDECAR_';

const spec = (flag: string, key: ConfigKey, help: string, list = false): FlagSpec => ({
  flag,
  key,
  env: `${ENV_PREFIX}${flag.toUpperCase().replaceAll('-', '_')}`,
  help,
  list,
});

/** Every option, its flag and its environment variable (flags win over the environment). */
export const SIDECAR_FLAGS: readonly FlagSpec[] = [
  spec('server', 'servers', 'meshpress server address; repeat or comma-separate for several', true),
  spec('transport', 'transport', 'auto | rest | grpc (default auto: from each address)'),
  spec('app', 'app', 'identity: app (required; also stamped as x-meshpress-app outbound)'),
  spec('cluster', 'cluster', 'identity: cluster'),
  spec('region', 'region', 'identity: region'),
  spec('node', 'node', 'identity: node'),
  spec('env', 'env', 'identity: env'),
  spec('routes-topic', 'routesTopic', 'mesh.routes.v1 topic: enables the outbound proxy'),
  spec('policy-topic', 'policyTopic', 'mesh.policy.v1 topic: enables the inbound guard'),
  spec('listen-host', 'listenHost', 'address the listeners bind (default 127.0.0.1)'),
  spec('outbound-port', 'outboundPort', 'outbound proxy port (default 15001; 0 = any)'),
  spec('inbound-port', 'inboundPort', 'inbound guard port (default 15006; 0 = any)'),
  spec('admin-port', 'adminPort', 'admin port: GET /admin, GET /healthz (default 15000; 0 = any)'),
  spec('app-host', 'appHost', 'local app host the inbound guard forwards to (default 127.0.0.1)'),
  spec('app-port', 'appPort', 'local app port (required with --policy-topic)'),
  spec('app-max-connections', 'appMaxConnections', 'connections to the local app (default 1024)'),
  spec('poll-mode', 'pollMode', 'long-poll | interval (default long-poll)'),
  spec('long-poll-wait-ms', 'longPollWaitMs', 'how long the server may hold a poll (default 60000)'),
  spec('poll-interval-ms', 'pollIntervalMs', 'interval mode: wait between polls (default 30000)'),
  spec('principal', 'principal', 'principal sent to meshpress and stamped outbound'),
  spec('cache-dir', 'cacheDir', 'disk cache of the last applied versions'),
  spec('startup-timeout-ms', 'startupTimeoutMs', 'longest wait for first versions (default 5000)'),
  spec('max-request-body-bytes', 'maxRequestBodyBytes', 'largest request body (default 10485760)'),
  spec('drain-timeout-ms', 'drainTimeoutMs', 'SIGTERM: time for requests in flight (default 10000)'),
  spec('inbound-timeout-ms', 'inboundTimeoutMs', 'local app inactivity timeout (default 15000)'),
  spec('upstream-keep-alive-ms', 'upstreamKeepAliveMs', 'idle upstream connection lifetime (default 4000)'),
  spec(
    'listener-keep-alive-ms',
    'listenerKeepAliveMs',
    'idle downstream connection lifetime (default 60000)',
  ),
  spec('upstream-connect-timeout-ms', 'upstreamConnectTimeoutMs', 'upstream connect timeout (default 5000)'),
  spec('log-level', 'logLevel', 'debug | info | warn | error | silent (default info)'),
];

const BY_FLAG = new Map(SIDECAR_FLAGS.map((s) => [s.flag, s]));

export type ArgsResult =
  | { readonly kind: 'config'; readonly input: Record<string, unknown> }
  | { readonly kind: 'help' }
  | { readonly kind: 'error'; readonly message: string };

/**
 * Raw configuration from `--flag value` / `--flag=value` arguments over MESHPRESS_SIDECAR_* variables.
 * Values stay strings here; the zod schema coerces and validates them once.
 */
export function configInputFromArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): ArgsResult {
  const input: Record<string, unknown> = {};
  for (const s of SIDECAR_FLAGS) {
    const value = env[s.env];
    if (value === undefined || value === '') continue;
    input[s.key] = s.list ? splitList(value) : value;
  }
  const fromFlags = new Map<ConfigKey, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return { kind: 'help' };
    if (!arg.startsWith('--')) return { kind: 'error', message: `unexpected argument '${arg}'` };
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const s = BY_FLAG.get(name);
    if (!s) return { kind: 'error', message: `unknown flag --${name}` };
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else {
      value = argv[i + 1];
      if (value === undefined || value.startsWith('--'))
        return { kind: 'error', message: `--${name} needs a value` };
      i++;
    }
    const values = fromFlags.get(s.key) ?? [];
    values.push(...(s.list ? splitList(value) : [value]));
    fromFlags.set(s.key, values);
  }
  for (const [key, values] of fromFlags) {
    const s = SIDECAR_FLAGS.find((f) => f.key === key)!;
    input[key] = s.list ? values : values[values.length - 1];
  }
  return { kind: 'config', input };
}

/** The flag name of a config key, for error messages (`appPort` → `--app-port`). */
export function flagOf(key: string): string {
  const s = SIDECAR_FLAGS.find((f) => f.key === key);
  return s ? `--${s.flag}` : key;
}

export function usage(): string {
  const width = Math.max(...SIDECAR_FLAGS.map((s) => s.flag.length)) + 2;
  const lines = SIDECAR_FLAGS.map(
    (s) => `  --${s.flag.padEnd(width)} ${s.help}\n  ${''.padEnd(width + 2)} env ${s.env}`,
  );
  return [
    'usage: meshpress-sidecar --server <address> --app <app> [--routes-topic <topic>] [--policy-topic <topic> --app-port <port>] [options]',
    '',
    'An HTTP proxy configured live from meshpress topics: routes outbound requests per a mesh.routes.v1',
    'snapshot and checks inbound requests against a mesh.policy.v1 snapshot.',
    '',
    ...lines,
    '',
  ].join('\n');
}

function splitList(value: string): string[] {
  return value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
}

import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../client/src/core/errors.js';
import { clientServers, parseSidecarConfig } from '../../../client/src/sidecar/config.js';
import { SidecarCore } from '../../../client/src/sidecar/core.js';
import { configInputFromArgs } from '../../../client/src/sidecar/flags.js';

const parse = (argv: string[], env: Record<string, string> = {}) => {
  const args = configInputFromArgs(argv, env);
  if (args.kind !== 'config') throw new Error(`expected config, got ${JSON.stringify(args)}`);
  return parseSidecarConfig(args.input);
};

const issuesOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    if (error instanceof ValidationError) return error.issues.map((i) => i.path);
    throw error;
  }
  throw new Error('expected a ValidationError');
};

describe('sidecar configuration (flags over MESHPRESS_SIDECAR_* environment)', () => {
  it('applies defaults: long-poll, Envoy ports on loopback', () => {
    const c = parse(['--server', 'meshpress:9090', '--app', 'web', '--routes-topic', 'mesh.web.routes']);
    expect(c).toMatchObject({
      servers: ['meshpress:9090'],
      transport: 'auto',
      pollMode: 'long-poll',
      listenHost: '127.0.0.1',
      outboundPort: 15001,
      inboundPort: 15006,
      adminPort: 15000,
    });
  });

  it('reads the environment, and flags override it; --flag=value and repeated list flags work', () => {
    const c = parse(['--outbound-port=0', '--server', 'http://b:8080', '--server=http://c:8080'], {
      MESHPRESS_SIDECAR_SERVER: 'http://a:8080, http://z:8080',
      MESHPRESS_SIDECAR_APP: 'web',
      MESHPRESS_SIDECAR_REGION: 'eu-west-1',
      MESHPRESS_SIDECAR_ROUTES_TOPIC: 'mesh.web.routes',
      MESHPRESS_SIDECAR_OUTBOUND_PORT: '7000',
      MESHPRESS_SIDECAR_POLL_MODE: 'interval',
    });
    expect(c).toMatchObject({
      servers: ['http://b:8080', 'http://c:8080'],
      region: 'eu-west-1',
      outboundPort: 0,
      pollMode: 'interval',
    });
  });

  it('takes a comma-separated server list from the environment alone', () => {
    const c = parse([], {
      MESHPRESS_SIDECAR_SERVER: 'http://a:8080, http://z:8080',
      MESHPRESS_SIDECAR_APP: 'web',
      MESHPRESS_SIDECAR_POLICY_TOPIC: 'mesh.web.policy',
      MESHPRESS_SIDECAR_APP_PORT: '8081',
    });
    expect(c).toMatchObject({
      servers: ['http://a:8080', 'http://z:8080'],
      policyTopic: 'mesh.web.policy',
      appPort: 8081,
    });
  });

  it('requires a topic, and the local app port with a policy topic', () => {
    expect(issuesOf(() => parse(['--server', 'a:1', '--app', 'web']))).toEqual(['routesTopic']);
    expect(
      issuesOf(() => parse(['--server', 'a:1', '--app', 'web', '--policy-topic', 'mesh.web.policy'])),
    ).toEqual(['appPort']);
  });

  it('names every bad value', () => {
    const paths = issuesOf(() =>
      parse([
        '--server',
        'a:1',
        '--app',
        'not valid',
        '--routes-topic',
        'UPPER',
        '--admin-port',
        '70000',
        '--poll-mode',
        'push',
        // Below the client library's floor (it caps retry delays too): named here, not by the client.
        '--poll-interval-ms',
        '500',
      ]),
    );
    expect(paths.sort()).toEqual(['adminPort', 'app', 'pollIntervalMs', 'pollMode', 'routesTopic']);
  });

  it('refuses a principal that cannot be sent as a header value or named by a policy', () => {
    const base = ['--server', 'a:1', '--app', 'web', '--routes-topic', 'mesh.web.routes'];
    for (const principal of ['spiffe://prod/a\nb', 'tab\there', 'with space', 'café', '-leading'])
      expect(
        issuesOf(() => parse([...base, '--principal', principal])),
        principal,
      ).toEqual(['principal']);
    expect(parse([...base, '--principal', 'spiffe://prod/ns/web/sa/web']).principal).toBe(
      'spiffe://prod/ns/web/sa/web',
    );
    // The programmatic core stamps the same headers: same rule.
    expect(() => new SidecarCore({ principal: 'a\r\nx-meshpress-app: admin' })).toThrow(ValidationError);
    expect(() => new SidecarCore({ app: 'not valid' })).toThrow(ValidationError);
  });

  it('checks addresses against an explicit transport and turns bare REST addresses into URLs', () => {
    expect(
      issuesOf(() =>
        parse(['--server', 'http://a:8080', '--transport', 'grpc', '--app', 'w', '--routes-topic', 't']),
      ),
    ).toEqual(['servers.0']);
    expect(
      issuesOf(() =>
        parse(['--server', 'grpc://a:9090', '--transport', 'rest', '--app', 'w', '--routes-topic', 't']),
      ),
    ).toEqual(['servers.0']);
    const rest = parse([
      '--server',
      'a:8080,https://b',
      '--transport',
      'rest',
      '--app',
      'w',
      '--routes-topic',
      't',
    ]);
    expect(clientServers(rest)).toEqual(['http://a:8080', 'https://b']);
    const grpc = parse(['--server', 'a:9090', '--app', 'w', '--routes-topic', 't']);
    expect(clientServers(grpc)).toEqual(['a:9090']);
  });

  it('rejects unknown flags, missing values and stray arguments before validation; --help asks for usage', () => {
    expect(configInputFromArgs(['--nope', 'x'], {})).toEqual({
      kind: 'error',
      message: 'unknown flag --nope',
    });
    expect(configInputFromArgs(['--app'], {})).toEqual({ kind: 'error', message: '--app needs a value' });
    expect(configInputFromArgs(['--app', '--server', 'x'], {})).toEqual({
      kind: 'error',
      message: '--app needs a value',
    });
    expect(configInputFromArgs(['serve'], {})).toEqual({
      kind: 'error',
      message: "unexpected argument 'serve'",
    });
    expect(configInputFromArgs(['--app', 'w', '-h'], {})).toEqual({ kind: 'help' });
  });
});

import { ValidationError } from '@meshpress/client';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_RETRIES,
  DEFAULT_POLL_INTERVAL_MS,
  DEFAULT_STARTUP_TIMEOUT_MS,
  MAX_POLL_INTERVAL_MS,
  MAX_STARTUP_TIMEOUT_MS,
  MeshpressClient,
  MIN_LONG_POLL_WAIT_MS,
  MIN_POLL_INTERVAL_MS,
  MIN_RETRY_BASE_MS,
  MIN_RETRY_CAP_MS,
  parseClientOptions,
} from '../../../client/src/consumer/index.js';
import { serverTarget } from '../../../client/src/consumer/options.js';
import { FakeTransport, IDENTITY } from './support.js';

function issues(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).issues.map((i) => i.path);
  }
  throw new Error('expected a ValidationError');
}

describe('client options', () => {
  it('fills in the documented defaults', () => {
    const parsed = parseClientOptions({ identity: IDENTITY, servers: 'localhost:9090' });
    expect(parsed.pollIntervalMs).toBe(DEFAULT_POLL_INTERVAL_MS);
    expect(parsed.maxRetries).toBe(DEFAULT_MAX_RETRIES);
    expect(parsed.startupTimeoutMs).toBe(DEFAULT_STARTUP_TIMEOUT_MS);
    expect(parsed.pollMode).toBe('interval');
  });

  it('names every bad field', () => {
    expect(
      issues(() =>
        parseClientOptions({
          identity: { app: 'bad app!' },
          servers: 'localhost:9090',
          pollIntervalMs: 0,
          pollJitter: 2,
          longPollWaitMs: 500_000,
        } as never),
      ).sort(),
    ).toEqual(['identity.app', 'longPollWaitMs', 'pollIntervalMs', 'pollJitter']);
    expect(issues(() => parseClientOptions({ identity: IDENTITY } as never))).toEqual(['servers']);
    expect(
      issues(() =>
        parseClientOptions({ identity: IDENTITY, servers: 'x:1', transport: new FakeTransport() }),
      ),
    ).toEqual(['servers']);
    expect(
      issues(() => parseClientOptions({ identity: IDENTITY, servers: 'x:1', typo: 1 } as never)),
    ).toEqual(['(root)']);
  });

  it('refuses a long-poll wait that would make the loop spin, and timer values past what a timer can hold', () => {
    const fail = (extra: Record<string, unknown>) => {
      try {
        parseClientOptions({ identity: IDENTITY, servers: 'localhost:9090', ...extra } as never);
      } catch (error) {
        expect(error).toBeInstanceOf(ValidationError);
        return (error as ValidationError).issues;
      }
      throw new Error('expected a ValidationError');
    };
    // A wait of 0 is answered at once with "nothing new", and asked again at once, forever.
    const [issue] = fail({ pollMode: 'long-poll', longPollWaitMs: 0 });
    expect(issue).toMatchObject({ path: 'longPollWaitMs' });
    expect(issue!.message).toMatch(/at least 1000 ms .*interval/);
    expect(fail({ longPollWaitMs: MIN_LONG_POLL_WAIT_MS - 1 }).map((i) => i.path)).toEqual([
      'longPollWaitMs',
    ]);
    expect(
      parseClientOptions({ identity: IDENTITY, servers: 'x:1', longPollWaitMs: MIN_LONG_POLL_WAIT_MS })
        .longPollWaitMs,
    ).toBe(MIN_LONG_POLL_WAIT_MS);
    // Node turns a delay over 2^31 − 1 ms into 1 ms: such values would poll back to back.
    const huge = 2 ** 31;
    expect(
      fail({
        pollIntervalMs: huge,
        startupTimeoutMs: huge,
        retryCapMs: huge,
        retryBaseMs: huge,
        requestTimeoutMs: huge,
        downloadTimeoutMs: huge,
      })
        .map((i) => i.path)
        .sort(),
    ).toEqual([
      'downloadTimeoutMs',
      'pollIntervalMs',
      'requestTimeoutMs',
      'retryBaseMs',
      'retryCapMs',
      'startupTimeoutMs',
    ]);
    const atMost = parseClientOptions({
      identity: IDENTITY,
      servers: 'x:1',
      pollIntervalMs: MAX_POLL_INTERVAL_MS,
      startupTimeoutMs: MAX_STARTUP_TIMEOUT_MS,
    });
    expect([atMost.pollIntervalMs, atMost.startupTimeoutMs]).toEqual([
      MAX_POLL_INTERVAL_MS,
      MAX_STARTUP_TIMEOUT_MS,
    ]);
  });

  it('refuses retry and interval settings that would retry a failing poll in a busy loop', () => {
    const fail = (extra: Record<string, unknown>) => {
      try {
        parseClientOptions({ identity: IDENTITY, servers: 'localhost:9090', ...extra } as never);
      } catch (error) {
        expect(error).toBeInstanceOf(ValidationError);
        return (error as ValidationError).issues;
      }
      throw new Error('expected a ValidationError');
    };
    // A ceiling of 0 makes every retry delay 0: a refused connection is retried at once, forever.
    const [base] = fail({ retryBaseMs: 0 });
    expect(base).toMatchObject({ path: 'retryBaseMs' });
    expect(base!.message).toMatch(/at least 10 ms .*loop/);
    const [cap] = fail({ retryCapMs: 0 });
    expect(cap).toMatchObject({ path: 'retryCapMs' });
    expect(cap!.message).toMatch(/at least 1000 ms/);
    // The interval caps every retry delay too.
    const [interval] = fail({ pollIntervalMs: 1 });
    expect(interval).toMatchObject({ path: 'pollIntervalMs' });
    expect(interval!.message).toMatch(/at least 1000 ms .*retry/);
    expect(
      fail({
        retryBaseMs: MIN_RETRY_BASE_MS - 1,
        retryCapMs: MIN_RETRY_CAP_MS - 1,
        pollIntervalMs: MIN_POLL_INTERVAL_MS - 1,
      })
        .map((i) => i.path)
        .sort(),
    ).toEqual(['pollIntervalMs', 'retryBaseMs', 'retryCapMs']);
    const atLeast = parseClientOptions({
      identity: IDENTITY,
      servers: 'x:1',
      retryBaseMs: MIN_RETRY_BASE_MS,
      retryCapMs: MIN_RETRY_CAP_MS,
      pollIntervalMs: MIN_POLL_INTERVAL_MS,
    });
    expect([atLeast.retryBaseMs, atLeast.retryCapMs, atLeast.pollIntervalMs]).toEqual([
      MIN_RETRY_BASE_MS,
      MIN_RETRY_CAP_MS,
      MIN_POLL_INTERVAL_MS,
    ]);
    expect(
      () => new MeshpressClient({ identity: IDENTITY, transport: new FakeTransport(), retryBaseMs: 0 }),
    ).toThrow(ValidationError);
  });

  it('refuses server addresses carrying credentials (or a query), and never echoes the secret', () => {
    for (const servers of [
      'http://svc:s3cret@meshpress:8080',
      ['http://meshpress-a:8080', 'https://svc:s3cret@meshpress-b:8443/'],
      'grpc://svc:s3cret@meshpress:9090',
      'http://meshpress:8080/?token=s3cret',
    ]) {
      let error: unknown;
      try {
        new MeshpressClient({ identity: IDENTITY, servers });
      } catch (e) {
        error = e;
      }
      expect(error, JSON.stringify(servers)).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).issues.map((i) => i.path)).toEqual(['servers']);
      expect(JSON.stringify([(error as Error).message, (error as ValidationError).issues])).not.toContain(
        's3cret',
      );
    }
  });

  it('picks the transport from the server addresses: gRPC by default, REST for http(s) URLs', () => {
    expect(serverTarget('meshpress:9090')).toEqual({
      kind: 'grpc',
      addresses: ['meshpress:9090'],
      tls: false,
    });
    expect(serverTarget(['grpcs://a:443', 'grpcs://b:443'])).toEqual({
      kind: 'grpc',
      addresses: ['a:443', 'b:443'],
      tls: true,
    });
    expect(serverTarget('http://127.0.0.1:8080/')).toEqual({
      kind: 'rest',
      urls: ['http://127.0.0.1:8080/'],
    });
    expect(() => serverTarget(['http://a:1', 'b:2'])).toThrow(ValidationError);
    expect(() => serverTarget('ftp://a:1')).toThrow(ValidationError);
    expect(() => serverTarget('no-port')).toThrow(ValidationError);
  });

  it('rejects bad topic names and decode functions at subscribe time', async () => {
    const client = new MeshpressClient({ identity: IDENTITY, transport: new FakeTransport() });
    expect(() => client.subscribe('Bad Topic', () => undefined)).toThrow(ValidationError);
    expect(() => client.subscribeAtomic('a.routes', { defaultValue: 1 } as never)).toThrow(ValidationError);
    await client.close();
  });
});

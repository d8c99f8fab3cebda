import { ValidationError } from '@meshpress/client';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_RETRIES,
  DEFAULT_POLL_INTERVAL_MS,
  DEFAULT_STARTUP_TIMEOUT_MS,
  MeshpressClient,
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

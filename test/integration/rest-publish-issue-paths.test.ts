import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { restAppOn } from '../support/rest-app.js';
import { caller, serviceHarness } from '../support/service-harness.js';

/**
 * Some publish fields are checked only by the service, under its own names. A REST caller must read the
 * names it sent: the JSON pointer nests under `payload.s3` (the gRPC adapter renames its fields the same
 * way).
 */
type Harness = Awaited<ReturnType<typeof serviceHarness>>;
let h: Harness;
let app: FastifyInstance;

beforeEach(async () => {
  h = await serviceHarness();
  await h.service.putTopic(caller, { name: 't' });
  app = restAppOn(h);
  await app.ready();
});
afterEach(async () => {
  await app.close();
  await h.close();
});

const location = { region: 'eu-west-1', bucket: 'bkt', key: 'k' };
const s3 = (pointer: Record<string, unknown>) => ({
  payload: { s3: { locations: [location], size: 1, sha256: 'a'.repeat(64), ...pointer } },
});

async function rejected(request: InjectOptions) {
  const res = await app.inject(request);
  expect(res.statusCode).toBe(400);
  const { error } = res.json();
  expect(error.code).toBe('VALIDATION_FAILED');
  return { paths: error.details.issues.map((i: { path: string }) => i.path), message: error.message };
}

describe('REST publish validation issues name the fields the caller sent', () => {
  it('an S3 pointer in a JSON body: payload.s3.…', async () => {
    const bucket = await rejected({
      method: 'POST',
      url: '/v1/topics/t/versions',
      payload: s3({ locations: [{ ...location, bucket: 'ab' }] }),
    });
    expect(bucket.paths).toEqual(['payload.s3.locations.0.bucket']);
    expect(bucket.message).toContain('(payload.s3.locations.0.bucket:');

    const many = await rejected({
      method: 'POST',
      url: '/v1/topics/t/versions',
      payload: s3({ locations: Array.from({ length: 17 }, () => location) }),
    });
    expect(many.paths).toEqual(['payload.s3.locations']);
  });

  it('fields outside the pointer keep their paths', async () => {
    // 65 scopes pass the REST schema; the service allows 64.
    const scopes = Array.from({ length: 65 }, (_, i) => `node=n${i}`);
    const pointer = await rejected({
      method: 'POST',
      url: '/v1/topics/t/versions',
      payload: { ...s3({}), scopes },
    });
    expect(pointer.paths).toEqual(['scopes']);
    const inline = await rejected({
      method: 'POST',
      url: '/v1/topics/t/versions',
      payload: { payload: { text: 'x' }, scopes },
    });
    expect(inline.paths).toEqual(['scopes']);
  });

  it('a raw publish: the scope query parameter, by position when repeated', async () => {
    const raw = (query: string) => ({
      method: 'POST' as const,
      url: `/v1/topics/t/versions?${query}`,
      headers: { 'content-type': 'application/octet-stream' },
      payload: Buffer.from('bytes'),
    });
    const one = await rejected(raw('scope=region%3Deu%20west'));
    expect(one.paths).toEqual(['scope']);
    expect(one.message).toContain('(scope:');

    const second = await rejected(raw('scope=region%3Deu-west-1&scope=nonsense'));
    expect(second.paths).toEqual(['scope.1']);

    const meta = await rejected(raw(`scope=*&meta.build=${'x'.repeat(5000)}`));
    expect(meta.paths).toEqual(['meta.build']);
  });
});

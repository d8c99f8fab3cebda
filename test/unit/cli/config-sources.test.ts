import { describe, expect, it } from 'vitest';
import { cli, testIo } from './support.js';

const run = (args: string[], env: Record<string, string>) => cli(args, testIo({ env }));

describe('meshpress configuration errors name where the value came from', () => {
  it('a bad environment variable is named as the variable, not as a flag the user never typed', async () => {
    const timeout = await run(['topics', 'list'], { MESHPRESS_TIMEOUT_MS: '30s' });
    expect(timeout.code).toBe(2);
    expect(timeout.stderr).toContain(
      'meshpress: MESHPRESS_TIMEOUT_MS: expected a whole number of milliseconds',
    );
    expect(timeout.stderr).not.toContain('--timeout');

    const url = await run(['topics', 'list'], { MESHPRESS_URL: 'meshpress.internal:8080' });
    expect(url.code).toBe(2);
    expect(url.stderr).toMatch(/^meshpress: MESHPRESS_URL: /);

    const buckets = await run(['topics', 'list'], { MESHPRESS_S3_BUCKETS: 'just-a-bucket' });
    expect(buckets.code).toBe(2);
    expect(buckets.stderr).toContain("MESHPRESS_S3_BUCKETS: 'just-a-bucket' is not key=value");
  });

  it('a flag overrides its variable and is named as the flag when it is the bad one', async () => {
    const result = await run(['topics', 'list', '--timeout', '0'], {
      MESHPRESS_TIMEOUT_MS: 'also bad',
      MESHPRESS_PRINCIPAL: 'not ok!',
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--timeout: expected a whole number of milliseconds, at least 1');
    expect(result.stderr).toContain('MESHPRESS_PRINCIPAL: 1-128 characters');
    expect(result.stderr).not.toContain('MESHPRESS_TIMEOUT_MS');
  });
});

import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

describe('@meshpress/client/sidecar', () => {
  it('resolves through the package exports map to the sidecar programmatic API', async () => {
    // Node's own resolution, as an embedding application gets it (the source condition spares a build).
    const script = `const m = await import('@meshpress/client/sidecar');
      console.log(JSON.stringify(['startSidecar', 'parseSidecarConfig', 'jsonLogger'].map((k) => typeof m[k])));`;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--conditions=meshpress-source', '--import', 'tsx', '--input-type=module', '-e', script],
      { cwd: ROOT },
    );
    expect(JSON.parse(stdout.trim())).toEqual(['function', 'function', 'function']);
  });
});

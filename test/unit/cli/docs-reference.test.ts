import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../../../client/src/cli/exit-codes.js';
import { MeshpressAdmin } from '../../../client/src/publisher/admin.js';
import { adminOptionsSchema } from '../../../client/src/publisher/admin-options.js';
import { s3UploadOptionsSchema } from '../../../client/src/publisher/s3-options.js';

const read = (path: string) =>
  readFileSync(fileURLToPath(new URL(`../../../${path}`, import.meta.url)), 'utf8');
const readme = read('README.md');
const cliDoc = read('docs/cli.md');

/** The README's CLI section, up to the next heading. */
const readmeCli = readme.slice(
  readme.indexOf('## CLI'),
  readme.indexOf('\n## ', readme.indexOf('## CLI') + 1),
);

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
const anchor = (heading: string) =>
  heading
    .toLowerCase()
    .replace(/[^a-z0-9 -]/g, '')
    .replace(/ /g, '-');

describe('README and docs/cli.md agree with the code', () => {
  it('the publisher API link of the README points at a section of docs/cli.md that exists', () => {
    const link = /publisher API \(`MeshpressAdmin`\): \[[^\]]*\]\(docs\/cli\.md#([a-z0-9-]+)\)/.exec(readme);
    expect(link, 'README links the publisher API to a section of docs/cli.md').not.toBeNull();
    const headings = [...cliDoc.matchAll(/^#{2,3} (.+)$/gm)].map((m) => anchor(m[1]!));
    expect(headings).toContain(link![1]);
  });

  it('docs/cli.md documents every public MeshpressAdmin method and option', () => {
    const api = cliDoc.slice(cliDoc.indexOf('## Publisher API'));
    expect(api.length).toBeGreaterThan(0);
    const methods = Object.getOwnPropertyNames(MeshpressAdmin.prototype).filter((m) => m !== 'constructor');
    for (const method of methods)
      expect(api, `MeshpressAdmin.${method}`).toMatch(new RegExp(`\`${method}[(\`]`));
    for (const option of Object.keys(adminOptionsSchema.shape))
      expect(api, `option ${option}`).toContain(`\`${option}\``);
    for (const option of Object.keys(s3UploadOptionsSchema.shape))
      expect(api, `s3 option ${option}`).toContain(`\`${option}\``);
  });

  it("the README's exit codes are the CLI's, 130 included, and say --json needs --out on versions download", () => {
    for (const code of Object.values(EXIT)) {
      expect(readmeCli, `exit ${code} in README`).toMatch(new RegExp(`\\b${code}\\s+[a-z]`));
      expect(cliDoc, `exit ${code} in docs/cli.md`).toMatch(new RegExp(`^\\| ${code} \\|`, 'm'));
    }
    expect(readmeCli.replace(/\s+/g, ' ')).toContain('`versions download` takes `--json` only with `--out`');
  });
});

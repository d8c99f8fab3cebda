import { describe, expect, it } from 'vitest';
import { cli, sendError, stubServer } from './support.js';

const ESC = '\u001b';

describe('what the CLI prints of answers it did not write', () => {
  it("a proxy's error page quoted in an error message reaches stderr with its control characters escaped", async () => {
    // A load balancer in front of the server answering with a page that would retitle the terminal.
    const { url } = await stubServer((_req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end(`<h1>${ESC}]0;owned\u0007Bad gateway</h1>`);
    });
    const result = await cli(['topics', 'show', 't', '--url', url]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).not.toContain(ESC);
    expect(result.stderr).toContain('\\u001b]0;owned\\u0007Bad gateway');
  });

  it("a server's error message is escaped too, and stays on its line", async () => {
    const { url } = await stubServer((_req, res) =>
      sendError(res, 403, 'FORBIDDEN', `not for you${ESC}[2K\nmeshpress: all good`),
    );
    const result = await cli(['topics', 'show', 't', '--url', url]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toBe('meshpress: FORBIDDEN: not for you\\u001b[2K\\u000ameshpress: all good\n');
  });
});

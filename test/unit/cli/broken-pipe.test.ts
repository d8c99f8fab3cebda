import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ignoreBrokenPipe } from '../../../client/src/cli/io.js';
import { cli, sendJson, stubServer, testIo, versionBody } from './support.js';

const epipe = () => Object.assign(new Error('write EPIPE'), { code: 'EPIPE', errno: -32, syscall: 'write' });

describe('stdout closed by its reader (| head)', () => {
  it('versions download ends quietly with status 0 when stdout is gone', async () => {
    const { url } = await stubServer((req, res) => {
      if (req.url.pathname.endsWith('/data')) {
        res.end('abc');
        return;
      }
      sendJson(res, 200, versionBody('t', 1, 'abc'));
    });
    const io = testIo();
    io.stdout.fail = epipe();
    const result = await cli(['versions', 'download', 't', '1', '--url', url], io);
    expect(result).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it("the stream's own 'error' event no longer kills the process; other stream errors still throw", () => {
    const stream = new PassThrough();
    expect(() => stream.emit('error', epipe())).toThrow('write EPIPE'); // Node's behaviour unguarded
    ignoreBrokenPipe(stream);
    expect(() => stream.emit('error', epipe())).not.toThrow();
    expect(() => stream.emit('error', new Error('disk on fire'))).toThrow('disk on fire');
  });
});

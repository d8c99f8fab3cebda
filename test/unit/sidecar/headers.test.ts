import { describe, expect, it } from 'vitest';
import { forwardedRequestHeaders, forwardedResponseHeaderList } from '../../../client/src/sidecar/headers.js';

describe('header forwarding', () => {
  it('drops hop-by-hop and framing headers, and those the Connection header names, keeping case and repeats', () => {
    const raw = [
      'Host',
      'web',
      'Connection',
      'keep-alive, X-Trace-Hop',
      'X-Trace-Hop',
      '1',
      'Keep-Alive',
      'timeout=5',
      'Transfer-Encoding',
      'chunked',
      'Content-Length',
      '12',
      'TE',
      'trailers',
      'Upgrade',
      'h2c',
      'Accept',
      'text/plain',
      'Accept',
      'application/json',
    ];
    expect(forwardedRequestHeaders(raw, 'keep-alive, X-Trace-Hop', false)).toEqual([
      'Host',
      'web',
      'Accept',
      'text/plain',
      'Accept',
      'application/json',
    ]);
  });

  it('drops the identity headers the outbound proxy stamps itself, only when asked', () => {
    const raw = [
      'X-Meshpress-App',
      'forged',
      'x-meshpress-principal',
      'forged',
      'x-meshpress-attempt',
      '9',
      'a',
      'b',
    ];
    expect(forwardedRequestHeaders(raw, undefined, true)).toEqual(['a', 'b']);
    expect(forwardedRequestHeaders(raw, undefined, false)).toEqual(raw);
  });

  it('keeps a response’s content-length and repeated set-cookie, drops its connection headers', () => {
    expect(
      forwardedResponseHeaderList(
        [
          'Content-Length',
          '5',
          'Connection',
          'keep-alive, x-private',
          'Keep-Alive',
          'timeout=5',
          'Transfer-Encoding',
          'chunked',
          'Set-Cookie',
          'a=1',
          'Set-Cookie',
          'b=2',
          'X-Private',
          'hop',
          'X-App',
          'v1',
          'x-meshpress-policy-version',
          'spoofed',
        ],
        ['x-meshpress-policy-version', '7'],
      ),
    ).toEqual([
      'content-length',
      '5',
      'set-cookie',
      'a=1',
      'set-cookie',
      'b=2',
      'x-app',
      'v1',
      'x-meshpress-policy-version',
      '7',
    ]);
  });
});

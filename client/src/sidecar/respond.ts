import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { type Rejection, rejectionBody, rejectionHeaders } from './errors.js';

/** Answers with a sidecar-generated error. Ignored when the caller is gone or headers are out. */
export function writeRejection(res: ServerResponse, r: Rejection, extra: OutgoingHttpHeaders = {}): void {
  if (res.headersSent || res.destroyed) return;
  const body = rejectionBody(r);
  res.writeHead(r.status, { ...extra, ...rejectionHeaders(r, body) });
  res.end(body);
}

/** Answers with JSON (admin endpoint). */
export function writeJson(res: ServerResponse, status: number, value: unknown): void {
  const body = `${JSON.stringify(value, null, 2)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    'cache-control': 'no-store',
  });
  res.end(body);
}

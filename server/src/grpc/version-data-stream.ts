import { once } from 'node:events';
import type { handleServerStreamingCall, ServerWritableStream } from '@grpc/grpc-js';
import type { MeshpressService } from '../core/service.js';
import { type AdapterContext, CallScope } from './call-runner.js';
import { toVersionMessage } from './encode.js';
import { type MalformedMessage, requireWellFormed } from './errors.js';
import type { VersionDataChunk, VersionRefRequest } from './messages.js';

/** Largest `data` of one streamed message: well under every client's default 4 MiB receive limit. */
export const DATA_CHUNK_BYTES = 1024 * 1024;

type DataCall = ServerWritableStream<VersionRefRequest | MalformedMessage, VersionDataChunk>;

/**
 * GetVersionData: the payload is read and verified against its sha256 in full before the first message,
 * so a stream that starts is never cut short by an integrity failure. Writes wait for the transport to
 * drain, so a slow reader holds at most a chunk or two in memory beyond the payload itself.
 */
export function versionDataHandler(
  context: AdapterContext,
  service: MeshpressService,
): handleServerStreamingCall<VersionRefRequest | MalformedMessage, VersionDataChunk> {
  return (call) => {
    const scope = new CallScope(context, 'GetVersionData', call.metadata);
    const cancelled = new AbortController();
    call.on('cancelled', () => cancelled.abort());
    stream(call, scope, service, cancelled.signal).then(
      () => {
        scope.finished();
        if (!cancelled.signal.aborted) call.end(scope.trailer);
      },
      (err: unknown) => {
        scope.finished();
        call.emit('error', scope.failure(err));
      },
    );
  };
}

async function stream(
  call: DataCall,
  scope: CallScope,
  service: MeshpressService,
  signal: AbortSignal,
): Promise<void> {
  const request = requireWellFormed(call.request, 'GetVersionData');
  const { record, data } = await service.getVersionData(scope.caller, {
    topic: request.topic,
    version: request.version,
  });
  let offset = 0;
  do {
    if (signal.aborted) return;
    const end = Math.min(offset + DATA_CHUNK_BYTES, data.byteLength);
    const chunk: VersionDataChunk = {
      ...(offset === 0 ? { record: toVersionMessage(record, { inlineData: false }) } : {}),
      data: data.subarray(offset, end),
      offset,
    };
    offset = end;
    if (!call.write(chunk)) await drained(call, signal);
  } while (offset < data.byteLength);
}

function drained(call: DataCall, signal: AbortSignal): Promise<void> {
  return once(call, 'drain', { signal }).then(
    () => undefined,
    () => undefined,
  );
}

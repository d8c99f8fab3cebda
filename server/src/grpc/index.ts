export { ERROR_CODE_KEY, ERROR_DETAILS_KEY, REQUEST_ID_KEY } from './errors.js';
export {
  type GrpcServerOptions,
  REQUEST_ENVELOPE_BYTES,
  type RunningGrpcServer,
  startGrpcServer,
} from './grpc-server.js';
export { DATA_CHUNK_BYTES } from './version-data-stream.js';

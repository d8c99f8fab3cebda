export { ERROR_CODE_KEY, ERROR_DETAILS_KEY, REQUEST_ID_KEY } from './errors.js';
export {
  type GrpcServerOptions,
  REQUEST_ENVELOPE_BYTES,
  type RunningGrpcServer,
  startGrpcServer,
} from './grpc-server.js';
export {
  type LoadedMeshpressProto,
  loadMeshpressProto,
  MESHPRESS_PROTO_FILE,
  MESHPRESS_PROTO_OPTIONS,
  MESHPRESS_SERVICE_NAME,
  meshpressProtoPath,
} from './proto.js';
export { DATA_CHUNK_BYTES } from './version-data-stream.js';

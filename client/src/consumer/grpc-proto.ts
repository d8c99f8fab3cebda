import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type GrpcObject, loadPackageDefinition, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync, type Options } from '@grpc/proto-loader';

export const MESHPRESS_PROTO_FILE = 'proto/meshpress/v1/meshpress.proto';

/**
 * The server's loader options (server/src/grpc/proto.ts): lowerCamelCase fields, int64 as numbers,
 * absent messages as null, `optional` fields absent when unset, a virtual property naming the set
 * member of each oneof. Both sides must agree for the shapes below to hold.
 */
export const PROTO_LOADER_OPTIONS: Options = Object.freeze({
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
});

/** The contract sits at the repository (or package) root, above both src/ and dist/. */
function protoPath(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    const candidate = join(dir, MESHPRESS_PROTO_FILE);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find ${MESHPRESS_PROTO_FILE} in any parent of ${from}`);
    dir = parent;
  }
}

let loadedConstructor: ServiceClientConstructor | undefined;

/** The generated client class of meshpress.v1.Meshpress, loaded once per process. */
export function meshpressClientConstructor(): ServiceClientConstructor {
  if (loadedConstructor) return loadedConstructor;
  const definition = loadSync(protoPath(), PROTO_LOADER_OPTIONS);
  const root = loadPackageDefinition(definition);
  const v1 = (root.meshpress as GrpcObject | undefined)?.v1 as GrpcObject | undefined;
  const service = v1?.Meshpress as ServiceClientConstructor | undefined;
  if (!service) throw new Error(`${MESHPRESS_PROTO_FILE} does not define meshpress.v1.Meshpress`);
  loadedConstructor = service;
  return service;
}

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type GrpcObject,
  loadPackageDefinition,
  type ServiceClientConstructor,
  type ServiceDefinition,
} from '@grpc/grpc-js';
import { loadSync, type Options, type PackageDefinition } from '@grpc/proto-loader';

/** Location of the contract relative to the repository (or package) root. */
export const MESHPRESS_PROTO_FILE = 'proto/meshpress/v1/meshpress.proto';
export const MESHPRESS_SERVICE_NAME = 'meshpress.v1.Meshpress';

/**
 * How the contract is loaded, on the server and in clients alike (both load it through this module):
 * - `keepCase: false`: fields are lowerCamelCase in JavaScript, as in the proto3 JSON mapping, so field
 *   paths in validation errors (`topics.0.currentVersion`) read the same as the REST body paths;
 * - `longs: Number`: int64 values arrive as numbers (valid versions and instants stay below 2^53; larger
 *   ones lose precision but still fail validation, since they are above Number.MAX_SAFE_INTEGER);
 * - `defaults: true`: absent scalars read as their zero value, absent messages as null; `optional`
 *   fields and oneof members stay absent, so "not set" is told apart from "set to zero";
 * - `oneofs: true`: each oneof gets a virtual property naming the member that is set.
 */
export const MESHPRESS_PROTO_OPTIONS: Options = Object.freeze({
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
});

/**
 * Finds the proto file by walking up from this module: it sits at the repository root whether this runs
 * from sources (client/src/wire) or from a build (client/dist/wire).
 */
export function meshpressProtoPath(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    const candidate = join(dir, MESHPRESS_PROTO_FILE);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find ${MESHPRESS_PROTO_FILE} in any parent of ${from}`);
    dir = parent;
  }
}

export interface LoadedMeshpressProto {
  readonly path: string;
  readonly packageDefinition: PackageDefinition;
  /** The Meshpress service, ready for `server.addService` or `makeGenericClientConstructor`. */
  readonly service: ServiceDefinition;
}

let loaded: LoadedMeshpressProto | undefined;

/** Parses the contract once per process. */
export function loadMeshpressProto(): LoadedMeshpressProto {
  if (loaded) return loaded;
  const path = meshpressProtoPath();
  const packageDefinition = loadSync(path, MESHPRESS_PROTO_OPTIONS);
  const service = packageDefinition[MESHPRESS_SERVICE_NAME] as unknown as ServiceDefinition | undefined;
  if (!service) throw new Error(`${path} does not define ${MESHPRESS_SERVICE_NAME}`);
  loaded = { path, packageDefinition, service };
  return loaded;
}

let clientConstructor: ServiceClientConstructor | undefined;

/** The generated client class of meshpress.v1.Meshpress, loaded once per process. */
export function meshpressClientConstructor(): ServiceClientConstructor {
  if (clientConstructor) return clientConstructor;
  const { path, packageDefinition } = loadMeshpressProto();
  const v1 = (loadPackageDefinition(packageDefinition).meshpress as GrpcObject | undefined)?.v1 as
    | GrpcObject
    | undefined;
  const service = v1?.Meshpress as ServiceClientConstructor | undefined;
  if (!service) throw new Error(`${path} does not define ${MESHPRESS_SERVICE_NAME}`);
  clientConstructor = service;
  return service;
}

import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { loadMeshpressProto, MESHPRESS_PROTO_OPTIONS } from '../../client/src/wire/grpc-contract.js';

/** Client constructors for the two services the gRPC benchmarks call, loaded the way meshpress loads its own. */

const HELLO_PROTO = fileURLToPath(new URL('../fixtures/hello.proto', import.meta.url));

export function helloDefinition(): grpc.ServiceDefinition {
  const pkg = loadSync(HELLO_PROTO, MESHPRESS_PROTO_OPTIONS);
  return pkg['bench.v1.Greeter'] as unknown as grpc.ServiceDefinition;
}

export function serviceClient(service: 'hello' | 'meshpress'): grpc.ServiceClientConstructor {
  const definition = service === 'hello' ? helloDefinition() : loadMeshpressProto().service;
  return grpc.makeGenericClientConstructor(definition as never, service);
}

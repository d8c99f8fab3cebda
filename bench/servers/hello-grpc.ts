import * as grpc from '@grpc/grpc-js';
import { helloDefinition } from '../harness/grpc-protos.js';

/** Baseline of the gRPC poll benchmark: a trivial unary call. Prints its address, serves until SIGTERM. */
const server = new grpc.Server();
server.addService(helloDefinition(), {
  sayHello(
    call: grpc.ServerUnaryCall<{ name: string }, { message: string }>,
    callback: grpc.sendUnaryData<{ message: string }>,
  ) {
    callback(null, { message: `hello ${call.request.name}` });
  },
});
const port = await new Promise<number>((resolve, reject) =>
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
    err ? reject(err) : resolve(p),
  ),
);
process.stdout.write(`hello-grpc listening 127.0.0.1:${port}\n`);
process.on('SIGTERM', () => {
  server.tryShutdown(() => process.exit(0));
});

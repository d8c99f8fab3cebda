import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Listener {
  readonly server: Server;
  readonly url: string;
}

/** Node's own default idle keep-alive of a server connection. */
const NODE_DEFAULT_KEEP_ALIVE_MS = 5_000;

/** An HTTP/1.1 listener on host:port (0 = any free port), keeping idle connections `keepAliveMs`. */
export function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  host: string,
  port: number,
  keepAliveMs: number = NODE_DEFAULT_KEEP_ALIVE_MS,
): Promise<Listener> {
  const server = createServer({ noDelay: true, keepAliveTimeout: keepAliveMs }, handler);
  // A request's headers must be allowed to arrive on a connection kept this long (Node's advice).
  server.headersTimeout = Math.max(server.headersTimeout, keepAliveMs + 1_000);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address() as AddressInfo;
      const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      resolve({ server, url: `http://${shown}:${address.port}` });
    });
  });
}

/** Stops accepting connections and closes idle keep-alive ones; busy ones finish their request. */
export function stopAccepting(listener: Listener): Promise<void> {
  return new Promise((resolve) => {
    listener.server.close(() => resolve());
    listener.server.closeIdleConnections();
  });
}

/** Ends every remaining connection (after the drain timeout). */
export function closeAll(listener: Listener): void {
  listener.server.closeAllConnections();
}

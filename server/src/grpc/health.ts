import type { Server } from '@grpc/grpc-js';
import { MESHPRESS_SERVICE_NAME } from '@meshpress/client';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';

/** '' is the whole server, by the health-checking protocol's convention. */
const HEALTH_SERVICES = ['', MESHPRESS_SERVICE_NAME] as const;

/** The standard grpc.health.v1.Health service, SERVING until the server starts draining. */
export class MeshpressHealth {
  readonly #health = new HealthImplementation(
    Object.fromEntries(HEALTH_SERVICES.map((name) => [name, 'SERVING' satisfies ServingStatus])),
  );
  #serving = true;

  addTo(server: Server): void {
    this.#health.addToServer(server);
  }

  /** Watchers are told of changes only, so repeated calls (drain, then close) notify once. */
  setServing(serving: boolean): void {
    if (serving === this.#serving) return;
    this.#serving = serving;
    const status: ServingStatus = serving ? 'SERVING' : 'NOT_SERVING';
    for (const name of HEALTH_SERVICES) this.#health.setStatus(name, status);
  }
}

import type { Clock } from '../core/clock.js';
import type { RoutesSnapshot } from '../mesh/index.js';
import { NodeCircuit } from './circuit-breaker.js';
import { OutlierDetector } from './outlier-detector.js';

/** What the sidecar remembers about a virtual node across snapshots: load and endpoint health. */
export interface NodeRuntime {
  readonly circuit: NodeCircuit;
  readonly outliers: OutlierDetector;
}

/**
 * Per-node state keyed by virtual node name, shared by every snapshot that names the node, so circuit
 * counts and ejections carry over a swap (as Envoy keeps a cluster's state when its config is
 * unchanged). Created on first use; dropped once a node is gone from the current snapshot and idle.
 */
export class NodeRegistry {
  readonly #nodes = new Map<string, NodeRuntime>();

  constructor(readonly clock: Clock) {}

  get(name: string): NodeRuntime {
    let node = this.#nodes.get(name);
    if (!node) {
      node = { circuit: new NodeCircuit(), outliers: new OutlierDetector(this.clock) };
      this.#nodes.set(name, node);
    }
    return node;
  }

  /** Forgets idle nodes that `snapshot` no longer has. */
  prune(snapshot: RoutesSnapshot): void {
    for (const [name, node] of this.#nodes) {
      if (node.circuit.active > 0 || node.circuit.pending > 0) continue;
      if (snapshot.virtualNode(name) === undefined) this.#nodes.delete(name);
    }
  }

  entries(): IterableIterator<[string, NodeRuntime]> {
    return this.#nodes.entries();
  }
}

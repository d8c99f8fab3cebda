import { join } from 'node:path';
import type { BlobStore } from './blob/blob-store.js';
import { DirBlobStore } from './blob/dir-blob-store.js';
import { S3BlobStore } from './blob/s3-blob-store.js';
import type { ChangeBus } from './bus/change-bus.js';
import { InProcessChangeBus } from './bus/in-process-bus.js';
import type { ServerConfig } from './config.js';
import type { ConfigStore } from './store/config-store.js';
import { SqliteConfigStore } from './store/sqlite/sqlite-config-store.js';
import { InProcessLeadership, type Leadership } from './tasks/leadership.js';

/** The role implementations an instance runs on, chosen by configuration (embedded or distributed). */
export interface Backends {
  readonly store: ConfigStore;
  readonly blobs: BlobStore;
  readonly bus: ChangeBus;
  readonly leadership: Leadership;
}

export async function openStore(config: ServerConfig): Promise<ConfigStore> {
  return SqliteConfigStore.open({ path: join(config.dataDir, 'meshpress.db') });
}

export function openBlobStore(config: ServerConfig): BlobStore {
  if (config.blobStore === 's3')
    return new S3BlobStore({
      buckets: (config.s3Buckets ?? []).map((b) => ({
        ...b,
        ...(config.s3Endpoint ? { endpoint: config.s3Endpoint } : {}),
        forcePathStyle: config.s3ForcePathStyle,
      })),
      ...(config.s3Prefix ? { prefix: config.s3Prefix } : {}),
    });
  return new DirBlobStore({ root: join(config.dataDir, 'blobs') });
}

export function openChangeBus(_config: ServerConfig): ChangeBus {
  return new InProcessChangeBus();
}

export function openLeadership(_config: ServerConfig): Leadership {
  return new InProcessLeadership();
}

/**
 * TypeScript shapes of the proto messages as @grpc/proto-loader hands them over (MESHPRESS_PROTO_OPTIONS):
 * requests as decoded (absent messages are null, absent `optional` fields and oneof members undefined),
 * responses as given to the encoder (absent fields may be omitted). Written by hand for the fields the
 * adapter uses; proto/meshpress/v1/meshpress.proto is the contract.
 */

type Opt<T> = T | undefined;

export interface RetentionMessage {
  maxVersions?: Opt<number>;
  maxAgeDays?: Opt<number>;
}

export interface IdentityMessage {
  app?: Opt<string>;
  cluster?: Opt<string>;
  region?: Opt<string>;
  node?: Opt<string>;
  env?: Opt<string>;
}

export interface S3LocationMessage {
  region: string;
  bucket: string;
  key: string;
}

export interface PutTopicRequest {
  topic: string;
  retention: RetentionMessage | null;
  kind?: Opt<string>;
  description?: Opt<string>;
}

export interface ListTopicsRequest {
  after?: Opt<string>;
  limit?: Opt<number>;
}

export interface TopicRequest {
  topic: string;
}

export interface PublishRequest {
  topic: string;
  payload?: Opt<'data' | 's3'>;
  data?: Opt<Uint8Array>;
  s3?: Opt<{ locations: S3LocationMessage[]; size: number; sha256: string }>;
  contentType?: Opt<string>;
  scopes: string[];
  metadata: Record<string, string>;
  sha256?: Opt<string>;
}

export interface ListVersionsRequest {
  topic: string;
  before?: Opt<number>;
  limit?: Opt<number>;
}

export interface VersionRefRequest {
  topic: string;
  version: number;
}

export interface AddScopesRequest extends VersionRefRequest {
  scopes: string[];
}

export interface PinRequest {
  topic: string;
  scope?: Opt<string>;
  version: number;
  reason?: Opt<string>;
}

export interface UnpinRequest {
  topic: string;
  scope?: Opt<string>;
  reason?: Opt<string>;
}

export interface GetPinHistoryRequest {
  topic: string;
  limit?: Opt<number>;
}

export interface ResolveRequest {
  topic: string;
  identity: IdentityMessage | null;
  atMs?: Opt<number>;
}

export interface GetConsumersRequest {
  topic: string;
}

export interface PollRequest {
  identity: IdentityMessage | null;
  topics: { topic: string; currentVersion?: Opt<number> }[];
  waitMs?: Opt<number>;
}

// Responses

export interface TopicMessage {
  name: string;
  kind?: string;
  description?: string;
  retention: RetentionMessage;
  latestVersion: number;
  createdAtMs: number;
  updatedAtMs: number;
}

export type DataPointerMessage =
  | { direct: { data?: Uint8Array } }
  | { s3: { locations: S3LocationMessage[] } }
  | { local: { key: string } };

export interface VersionMessage {
  topic: string;
  version: number;
  metadata: Record<string, string>;
  pointer: DataPointerMessage;
  size: number;
  sha256: string;
  contentType: string;
  publisher: string;
  createdAtMs: number;
  committedAtMs?: number;
  scopes: { scope: string; addedAtMs: number }[];
}

export interface PinMessage {
  scope: string;
  version: number;
  reason: string;
  author: string;
  setAtMs: number;
}

export interface PinEventMessage {
  scope: string;
  version?: number;
  reason: string;
  author: string;
  atMs: number;
}

export interface PollUpdateMessage {
  topic: string;
  version: number;
  pinned: boolean;
  record: VersionMessage;
}

export interface ResolvedTargetMessage {
  version: number;
  pinned: boolean;
  scope: string;
  record?: VersionMessage;
}

export interface VersionDataChunk {
  record?: VersionMessage;
  data: Uint8Array;
  offset: number;
}

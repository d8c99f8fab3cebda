import { type Clock, parseOrThrow, systemClock } from '@meshpress/client';
import { types } from 'cassandra-driver';
import { z } from 'zod';

export const DEFAULT_CASSANDRA_KEYSPACE = 'meshpress';
export const DEFAULT_CASSANDRA_PORT = 9042;
/** Client-side limit per request (the driver's socket read timeout); above the servers' own timeouts. */
export const DEFAULT_CASSANDRA_REQUEST_TIMEOUT_MS = 12_000;
export const DEFAULT_CASSANDRA_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_CASSANDRA_CONSISTENCY = 'LOCAL_QUORUM';
/**
 * SERIAL, not LOCAL_SERIAL: version numbers must be unique across every data center that publishes.
 * LOCAL_SERIAL is only safe when all publishers of a topic live in one data center.
 */
export const DEFAULT_CASSANDRA_SERIAL_CONSISTENCY = 'SERIAL';

const CONSISTENCIES = {
  ONE: types.consistencies.one,
  LOCAL_ONE: types.consistencies.localOne,
  QUORUM: types.consistencies.quorum,
  LOCAL_QUORUM: types.consistencies.localQuorum,
  ALL: types.consistencies.all,
} as const;

const SERIAL_CONSISTENCIES = {
  SERIAL: types.consistencies.serial,
  LOCAL_SERIAL: types.consistencies.localSerial,
} as const;

type ConsistencyName = keyof typeof CONSISTENCIES;
type SerialConsistencyName = keyof typeof SERIAL_CONSISTENCIES;

// Unquoted CQL identifiers are case-insensitive; lower case only, so the name means one thing everywhere.
export const keyspaceSchema = z
  .string()
  .regex(
    /^[a-z][a-z0-9_]{0,47}$/,
    'keyspace must be lower case letters, digits and _, starting with a letter',
  );
const dataCenterSchema = z.string().regex(/^[A-Za-z0-9_.-]+$/, 'invalid data center name');

export const replicationSchema = z.discriminatedUnion('class', [
  z
    .object({
      class: z.literal('SimpleStrategy'),
      replicationFactor: z.number().int().min(1).max(31),
    })
    .strict(),
  z
    .object({
      class: z.literal('NetworkTopologyStrategy'),
      /** Replicas per data center, e.g. `{ 'us-east': 3, 'eu-west': 3 }`. */
      dataCenters: z
        .record(dataCenterSchema, z.number().int().min(1).max(31))
        .refine((dcs) => Object.keys(dcs).length > 0, 'name at least one data center'),
    })
    .strict(),
]);

export type CassandraReplication = z.infer<typeof replicationSchema>;

const clockSchema = z.custom<Clock>(
  (value) =>
    typeof value === 'object' && value !== null && typeof (value as { now?: unknown }).now === 'function',
  { message: 'expected a Clock' },
);

export const cassandraConfigStoreOptionsSchema = z
  .object({
    /** `host` or `host:port` of one or more nodes to discover the cluster from. */
    contactPoints: z.array(z.string().min(1)).min(1, 'name at least one contact point'),
    /** Data center of this instance: the driver routes requests to its nodes, LOCAL_* levels count there. */
    localDataCenter: z.string().min(1),
    /** Native transport port of nodes discovered from the contact points. */
    port: z.number().int().min(1).max(65_535).default(DEFAULT_CASSANDRA_PORT),
    keyspace: keyspaceSchema.default(DEFAULT_CASSANDRA_KEYSPACE),
    /** Used only when the keyspace does not exist yet; an existing keyspace is never altered. */
    replication: replicationSchema,
    /** Of every read and write (see DEFAULT_CASSANDRA_CONSISTENCY). */
    consistency: z
      .enum(['ONE', 'LOCAL_ONE', 'QUORUM', 'LOCAL_QUORUM', 'ALL'])
      .default(DEFAULT_CASSANDRA_CONSISTENCY),
    /** Of the Paxos phase of lightweight transactions (see DEFAULT_CASSANDRA_SERIAL_CONSISTENCY). */
    serialConsistency: z.enum(['SERIAL', 'LOCAL_SERIAL']).default(DEFAULT_CASSANDRA_SERIAL_CONSISTENCY),
    credentials: z
      .object({ username: z.string().min(1), password: z.string() })
      .strict()
      .optional(),
    /** Native protocol version; absent = negotiate (the highest both sides speak). 3 for Cassandra 2.1. */
    protocolVersion: z.union([z.literal(3), z.literal(4)]).optional(),
    requestTimeoutMs: z.number().int().min(100).max(600_000).default(DEFAULT_CASSANDRA_REQUEST_TIMEOUT_MS),
    connectTimeoutMs: z.number().int().min(100).max(600_000).default(DEFAULT_CASSANDRA_CONNECT_TIMEOUT_MS),
    /**
     * Apply pending schema migrations on open (the default). Off: open only checks that the schema is
     * current and fails with UnavailableError until it is (instances started beside the one that migrates).
     */
    migrate: z.boolean().default(true),
    /** Stamps `schema_migrations.applied_at`; defaults to the system clock. */
    clock: clockSchema.optional(),
  })
  .strict();

export type CassandraConfigStoreOptions = z.input<typeof cassandraConfigStoreOptionsSchema>;

export interface ParsedCassandraConfigStoreOptions {
  readonly contactPoints: readonly string[];
  readonly localDataCenter: string;
  readonly port: number;
  readonly keyspace: string;
  readonly replication: CassandraReplication;
  readonly consistency: types.consistencies;
  readonly serialConsistency: types.consistencies;
  readonly credentials?: { readonly username: string; readonly password: string } | undefined;
  readonly protocolVersion?: 3 | 4 | undefined;
  readonly requestTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly migrate: boolean;
  readonly clock: Clock;
}

export function parseCassandraConfigStoreOptions(options: unknown): ParsedCassandraConfigStoreOptions {
  const parsed = parseOrThrow(cassandraConfigStoreOptionsSchema, options, 'Cassandra config store options');
  return {
    ...parsed,
    consistency: CONSISTENCIES[parsed.consistency as ConsistencyName],
    serialConsistency: SERIAL_CONSISTENCIES[parsed.serialConsistency as SerialConsistencyName],
    clock: parsed.clock ?? systemClock,
  };
}

/**
 * Reads the compact text form used in environment variables: `SimpleStrategy:1` or
 * `NetworkTopologyStrategy:us-east=3,eu-west=3`. Throws ValidationError naming the problem.
 */
export function parseReplication(text: string): CassandraReplication {
  return parseOrThrow(replicationSchema, replicationFromText(text), 'Cassandra replication');
}

/**
 * The text form, kept as text (the server configuration stores it so), accepted only when parseReplication
 * would accept it: a bad value is reported with the rest of the configuration, before anything connects.
 */
export const replicationTextSchema = z.string().superRefine((text, ctx) => {
  const result = replicationSchema.safeParse(replicationFromText(text));
  if (!result.success)
    for (const issue of result.error.issues)
      ctx.addIssue({
        code: 'custom',
        message: issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message,
      });
});

function replicationFromText(text: string): unknown {
  const [strategy = '', spec = ''] = text.trim().split(/:(.*)/s, 2);
  return strategy === 'SimpleStrategy'
    ? { class: strategy, replicationFactor: Number(spec) }
    : {
        class: strategy,
        dataCenters: Object.fromEntries(
          spec
            .split(',')
            .filter((part) => part.trim() !== '')
            .map((part) => {
              const [dc = '', rf = ''] = part.split('=', 2);
              return [dc.trim(), Number(rf)];
            }),
        ),
      };
}

/** The CQL map literal of a replication setting (values already validated). */
export function replicationCql(replication: CassandraReplication): string {
  if (replication.class === 'SimpleStrategy')
    return `{'class': 'SimpleStrategy', 'replication_factor': ${replication.replicationFactor}}`;
  const dcs = Object.entries(replication.dataCenters)
    .map(([dc, rf]) => `'${dc}': ${rf}`)
    .join(', ');
  return `{'class': 'NetworkTopologyStrategy', ${dcs}}`;
}

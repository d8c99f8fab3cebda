import { z } from 'zod';
import {
  MAX_HEADER_REGEX_LENGTH,
  MAX_HEADER_VALUE_LENGTH,
  MAX_MESH_ENDPOINTS_PER_NODE,
  MAX_MESH_HEADER_MATCHERS,
  MAX_MESH_ROUTE_PRIORITY,
  MAX_MESH_ROUTES,
  MAX_MESH_TARGET_WEIGHT,
  MAX_MESH_VIRTUAL_NODES,
  MAX_MESH_WEIGHTED_TARGETS,
} from './defaults.js';
import { meshEndpointSchema } from './endpoint-schema.js';
import {
  meshHeaderNameSchema,
  meshHttpMethodSchema,
  meshNameSchema,
  meshPathSchema,
  meshServiceNameSchema,
} from './names.js';

const positiveMs = z.int().min(1).max(86_400_000);

/** Adds "exactly one of" to an object schema, both as a zod check and as a JSON Schema `oneOf`. */
function exactlyOneOf<T extends z.ZodObject>(schema: T, keys: readonly string[]): T {
  return schema
    .superRefine((value, ctx) => {
      const present = keys.filter((k) => (value as Record<string, unknown>)[k] !== undefined);
      if (present.length !== 1)
        ctx.addIssue({
          code: 'custom',
          message: `exactly one of ${keys.join(', ')} is required (found ${present.length ? present.join(', ') : 'none'})`,
        });
    })
    .meta({ oneOf: keys.map((k) => ({ required: [k] })) });
}

export const meshHeaderMatchSchema = exactlyOneOf(
  z.strictObject({
    name: meshHeaderNameSchema.describe('Header name, compared case-insensitively.'),
    exact: z.string().max(MAX_HEADER_VALUE_LENGTH).optional().describe('Value equals this string.'),
    prefix: z.string().min(1).max(MAX_HEADER_VALUE_LENGTH).optional().describe('Value starts with this.'),
    regex: z
      .string()
      .min(1)
      .max(MAX_HEADER_REGEX_LENGTH)
      .optional()
      .describe('Value contains a match of this regular expression (linear-time subset; anchor with ^ $).'),
    present: z.boolean().optional().describe('true: header is present; false: header is absent.'),
    invert: z
      .boolean()
      .optional()
      .describe('Negates the result (an absent header still fails exact/prefix/regex).'),
  }),
  ['exact', 'prefix', 'regex', 'present'],
);

export const meshRouteMatchSchema = exactlyOneOf(
  z.strictObject({
    prefix: meshPathSchema.optional().describe("Path starts with this string ('/' matches every path)."),
    path: meshPathSchema.optional().describe('Path (query string excluded) equals this string.'),
    methods: z.array(meshHttpMethodSchema).min(1).max(9).optional().describe('Any of these methods.'),
    headers: z.array(meshHeaderMatchSchema).min(1).max(MAX_MESH_HEADER_MATCHERS).optional(),
  }),
  ['prefix', 'path'],
);

export const meshWeightedTargetSchema = z.strictObject({
  virtualNode: meshNameSchema,
  weight: z.int().min(0).max(MAX_MESH_TARGET_WEIGHT).describe('Relative weight; share = weight / sum.'),
});

export const MESH_RETRY_EVENTS = [
  '5xx',
  'gateway-error',
  'reset',
  'connect-failure',
  'retriable-4xx',
  'refused-stream',
] as const;
export type MeshRetryEvent = (typeof MESH_RETRY_EVENTS)[number];

export const meshRetryPolicySchema = z.strictObject({
  maxRetries: z.int().min(0).max(10),
  perTryTimeoutMs: positiveMs,
  retryOn: z.array(z.enum(MESH_RETRY_EVENTS)).min(1).max(MESH_RETRY_EVENTS.length),
  backoff: z
    .strictObject({
      baseIntervalMs: z.int().min(1).max(60_000),
      maxIntervalMs: z.int().min(1).max(600_000).optional(),
    })
    .optional(),
});

export const meshRouteSchema = z.strictObject({
  name: meshNameSchema,
  priority: z.int().min(0).max(MAX_MESH_ROUTE_PRIORITY).optional().describe('0 is matched first.'),
  match: meshRouteMatchSchema,
  action: z.strictObject({
    weightedTargets: z.array(meshWeightedTargetSchema).min(1).max(MAX_MESH_WEIGHTED_TARGETS),
  }),
  retryPolicy: meshRetryPolicySchema.optional(),
  timeoutMs: positiveMs.optional(),
});

export const meshVirtualNodeSchema = z.strictObject({
  name: meshNameSchema,
  endpoints: z.array(meshEndpointSchema).min(1).max(MAX_MESH_ENDPOINTS_PER_NODE),
  connectionPool: z
    .strictObject({
      maxConnections: z.int().min(1).max(1_000_000).optional(),
      maxPendingRequests: z.int().min(1).max(1_000_000).optional(),
      maxRequests: z.int().min(1).max(1_000_000).optional(),
    })
    .optional(),
  outlierDetection: z
    .strictObject({
      consecutiveErrors: z.int().min(1).max(1000).optional(),
      intervalMs: positiveMs.optional(),
      baseEjectionMs: positiveMs.optional(),
      maxEjectionPercent: z.int().min(0).max(100).optional(),
    })
    .optional(),
});

export const meshRateLimitSchema = z.strictObject({
  requestsPerSecond: z.number().positive().max(1_000_000_000),
  burst: z.int().min(1).max(1_000_000_000).optional(),
});

export const routesDocumentSchema = z
  .strictObject({
    kind: z.literal('mesh.routes.v1'),
    virtualService: meshServiceNameSchema,
    router: z.strictObject({
      routes: z.array(meshRouteSchema).max(MAX_MESH_ROUTES),
    }),
    virtualNodes: z.array(meshVirtualNodeSchema).min(1).max(MAX_MESH_VIRTUAL_NODES),
    rateLimit: meshRateLimitSchema.optional(),
  })
  .meta({
    title: 'mesh.routes.v1',
    description: 'Routes, virtual nodes and rate limit of one virtual service.',
  });

export type RoutesDocument = z.output<typeof routesDocumentSchema>;
export type RoutesDocumentInput = z.input<typeof routesDocumentSchema>;
export type MeshRoute = RoutesDocument['router']['routes'][number];
export type MeshRouteMatch = MeshRoute['match'];
export type MeshHeaderMatch = NonNullable<MeshRouteMatch['headers']>[number];
export type MeshVirtualNodeSpec = RoutesDocument['virtualNodes'][number];
export type MeshRetryPolicySpec = NonNullable<MeshRoute['retryPolicy']>;
export type MeshRateLimitSpec = NonNullable<RoutesDocument['rateLimit']>;

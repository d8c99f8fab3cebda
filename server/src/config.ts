import { toFieldIssues, ValidationError } from '@meshpress/client';
import { z } from 'zod';
import { DEFAULT_REFRESH_INTERVAL_MS } from './core/consumer-cache.js';
import { DEFAULT_INLINE_LIMIT_BYTES, DEFAULT_MAX_PAYLOAD_BYTES } from './core/service.js';

const port = z.coerce.number().int().min(0).max(65_535);
const bytes = z.coerce.number().int().min(1);
const flag = z.union([
  z.boolean(),
  z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1'),
]);

/**
 * Server configuration, read once from the environment (MESHPRESS_*) and validated. Every entry is
 * documented in README.md ("Configuration").
 */
export const serverConfigSchema = z.object({
  dataDir: z.string().min(1).default('./data'),
  host: z.string().min(1).default('127.0.0.1'),
  httpPort: port.default(8080),
  grpcPort: port.default(9090),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  inlineLimitBytes: bytes.default(DEFAULT_INLINE_LIMIT_BYTES),
  maxPayloadBytes: bytes.default(DEFAULT_MAX_PAYLOAD_BYTES),
  refreshIntervalMs: z.coerce.number().int().min(100).default(DEFAULT_REFRESH_INTERVAL_MS),
  shutdownGraceMs: z.coerce.number().int().min(0).default(10_000),
  instanceId: z.string().min(1).max(128).optional(),
  exposeOpenApi: flag.default(true),
});

export type ServerConfig = z.output<typeof serverConfigSchema>;

const ENV_NAMES: Record<keyof ServerConfig, string> = {
  dataDir: 'MESHPRESS_DATA_DIR',
  host: 'MESHPRESS_HOST',
  httpPort: 'MESHPRESS_HTTP_PORT',
  grpcPort: 'MESHPRESS_GRPC_PORT',
  logLevel: 'MESHPRESS_LOG_LEVEL',
  inlineLimitBytes: 'MESHPRESS_INLINE_LIMIT_BYTES',
  maxPayloadBytes: 'MESHPRESS_MAX_PAYLOAD_BYTES',
  refreshIntervalMs: 'MESHPRESS_REFRESH_INTERVAL_MS',
  shutdownGraceMs: 'MESHPRESS_SHUTDOWN_GRACE_MS',
  instanceId: 'MESHPRESS_INSTANCE_ID',
  exposeOpenApi: 'MESHPRESS_OPENAPI',
};

/** Reads the configuration from environment variables; a ValidationError names each bad variable. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const raw: Record<string, string> = {};
  for (const [key, name] of Object.entries(ENV_NAMES)) {
    const value = env[name];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const result = serverConfigSchema.safeParse(raw);
  if (result.success) return result.data;
  const issues = toFieldIssues(result.error).map((issue) => ({
    ...issue,
    path: ENV_NAMES[issue.path as keyof ServerConfig] ?? issue.path,
  }));
  throw new ValidationError(
    `invalid configuration: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
    issues,
  );
}

/** Parses an explicit configuration object (tests, embedding), applying the same defaults. */
export function parseServerConfig(
  input: Partial<z.input<typeof serverConfigSchema>> | Partial<ServerConfig> = {},
): ServerConfig {
  const result = serverConfigSchema.safeParse(input);
  if (result.success) return result.data;
  throw new ValidationError('invalid server configuration', toFieldIssues(result.error));
}

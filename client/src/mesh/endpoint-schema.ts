import { isIP } from 'node:net';
import { z } from 'zod';

const HOSTNAME_PATTERN =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function isHost(value: string): boolean {
  return HOSTNAME_PATTERN.test(value) || isIP(value) !== 0;
}

/**
 * Either `{ host, port }` or `{ url }`; the compiler normalises both to host, port and scheme. One object
 * with a refinement (rather than a union) so a bad port is reported at `…endpoints.N.port`.
 */
export const meshEndpointSchema = z
  .strictObject({
    host: z.string().max(253).refine(isHost, 'host must be a DNS name or an IPv4/IPv6 address').optional(),
    port: z.int().min(1).max(65_535).optional(),
    url: z
      .string()
      .max(300)
      .refine(
        (text) => parseMeshEndpointUrl(text) !== undefined,
        'url must be http://host[:port] or https://host[:port] without path, query or credentials',
      )
      .optional(),
  })
  .superRefine((value, ctx) => {
    const hostPort = value.host !== undefined || value.port !== undefined;
    if (value.url !== undefined && hostPort)
      ctx.addIssue({ code: 'custom', message: 'give either url or host and port, not both' });
    else if (value.url === undefined && (value.host === undefined || value.port === undefined))
      ctx.addIssue({ code: 'custom', message: 'host and port are required (or give a url)' });
  })
  .meta({ oneOf: [{ required: ['host', 'port'] }, { required: ['url'] }] });

export type MeshEndpointSpec = z.output<typeof meshEndpointSchema>;

export interface ParsedMeshEndpointUrl {
  readonly scheme: 'http' | 'https';
  readonly host: string;
  readonly port: number;
}

export function parseMeshEndpointUrl(text: string): ParsedMeshEndpointUrl | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  if (url.username || url.password || url.search || url.hash) return undefined;
  if (url.pathname !== '/' && url.pathname !== '') return undefined;
  const scheme = url.protocol === 'https:' ? 'https' : 'http';
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (!isHost(host)) return undefined;
  const port = url.port ? Number(url.port) : scheme === 'https' ? 443 : 80;
  return { scheme, host, port };
}

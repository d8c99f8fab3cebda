import { z } from 'zod';

/** Route, virtual node and rule names: safe in metrics labels, log lines, URLs and Envoy resource names. */
export const MESH_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const meshNameSchema = z
  .string()
  .regex(
    MESH_NAME_PATTERN,
    'names are 1-128 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit',
  );

/** Virtual service and policy service names: DNS-like, so they may be as long as a DNS name. */
export const MESH_SERVICE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;
export const meshServiceNameSchema = z
  .string()
  .regex(
    MESH_SERVICE_NAME_PATTERN,
    'service names are 1-253 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit',
  );

export const MESH_HTTP_METHODS = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'PATCH',
  'OPTIONS',
  'CONNECT',
  'TRACE',
] as const;
export type MeshHttpMethod = (typeof MESH_HTTP_METHODS)[number];
export const meshHttpMethodSchema = z.enum(MESH_HTTP_METHODS);

/** Request paths as written in documents: absolute, no query or fragment, no whitespace or control characters. */
export const MESH_PATH_PATTERN = /^\/[\x21-\x22\x24-\x3e\x40-\x7e]*$/;
export const MAX_MESH_PATH_LENGTH = 1024;
export const meshPathSchema = z
  .string()
  .max(MAX_MESH_PATH_LENGTH)
  .regex(MESH_PATH_PATTERN, "paths start with '/' and hold visible ASCII without '?', '#' or spaces");

/** HTTP header names (RFC 9110 token characters). Compared lowercased. */
export const MESH_HEADER_NAME_PATTERN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/;
export const meshHeaderNameSchema = z
  .string()
  .regex(MESH_HEADER_NAME_PATTERN, 'header names are 1-256 RFC 9110 token characters');

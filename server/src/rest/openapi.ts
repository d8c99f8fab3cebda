import { z } from 'zod';
import type { RouteSpec } from './route.js';

/** Builds the OpenAPI 3.1 document from the route table, so the docs cannot drift from validation. */
export function buildOpenApi(routes: readonly RouteSpec[], info: { title: string; version: string }): object {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = route.url.replace(/:([A-Za-z]+)/g, '{$1}');
    const parameters = [...objectParams(route.params, 'path'), ...objectParams(route.query, 'query')];
    const responses: Record<string, unknown> = {};
    for (const [status, schema] of Object.entries(route.responses)) {
      responses[status] = schema
        ? {
            description: `HTTP ${status}`,
            content: { 'application/json': { schema: jsonSchema(schema, 'output') } },
          }
        : { description: `HTTP ${status}` };
    }
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = {
      operationId: route.operationId,
      summary: route.summary,
      ...(parameters.length ? { parameters } : {}),
      ...(route.body
        ? {
            requestBody: {
              required: true,
              content: {
                'application/json': { schema: jsonSchema(route.body, 'input') },
                ...(route.rawBody
                  ? { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } }
                  : {}),
              },
            },
          }
        : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info,
    components: {
      securitySchemes: {
        principal: { type: 'apiKey', in: 'header', name: 'x-meshpress-principal' },
        app: { type: 'apiKey', in: 'header', name: 'x-meshpress-app' },
      },
    },
    paths,
  };
}

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): object {
  return z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' });
}

function objectParams(schema: z.ZodType | undefined, where: 'path' | 'query'): object[] {
  if (!schema) return [];
  const json = jsonSchema(schema, 'input') as { properties?: Record<string, object>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || (json.required ?? []).includes(name),
    schema: property,
  }));
}

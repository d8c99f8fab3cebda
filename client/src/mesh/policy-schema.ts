import { z } from 'zod';
import { identityValueSchema } from '../core/names.js';
import { MAX_MESH_POLICY_RULES, MAX_MESH_RULE_ENTRIES } from './defaults.js';
import { meshHttpMethodSchema, meshNameSchema, meshPathSchema, meshServiceNameSchema } from './names.js';

export const MTLS_MODES = ['STRICT', 'PERMISSIVE', 'DISABLE'] as const;
export type MtlsMode = (typeof MTLS_MODES)[number];

export const POLICY_ACTIONS = ['ALLOW', 'DENY'] as const;
export type PolicyAction = (typeof POLICY_ACTIONS)[number];
export const DEFAULT_MESH_POLICY_ACTION: PolicyAction = 'DENY';

/** The principal wildcard: any peer that presented a verified certificate. */
export const ANY_PRINCIPAL = '*';

/** SPIFFE IDs and similar certificate identities: visible ASCII, no spaces. */
export const MESH_PRINCIPAL_PATTERN = /^(?:\*|[A-Za-z0-9][\x21-\x7e]{0,511})$/;
export const meshPrincipalSchema = z
  .string()
  .regex(
    MESH_PRINCIPAL_PATTERN,
    "principals are '*' or 1-512 visible ASCII characters starting with a letter or digit",
  );

export const meshPathMatchSchema = z
  .strictObject({
    prefix: meshPathSchema.optional(),
    exact: meshPathSchema.optional(),
  })
  .superRefine((value, ctx) => {
    if ((value.prefix === undefined) === (value.exact === undefined))
      ctx.addIssue({ code: 'custom', message: 'exactly one of prefix, exact is required' });
  })
  .meta({ oneOf: [{ required: ['prefix'] }, { required: ['exact'] }] });

export const meshPolicyRuleSchema = z.strictObject({
  name: meshNameSchema,
  from: z
    .strictObject({
      apps: z.array(identityValueSchema).min(1).max(MAX_MESH_RULE_ENTRIES).optional(),
      principals: z.array(meshPrincipalSchema).min(1).max(MAX_MESH_RULE_ENTRIES).optional(),
    })
    .describe('Source constraints; every given list must contain the caller. {} matches every caller.'),
  to: z
    .strictObject({
      paths: z.array(meshPathMatchSchema).min(1).max(MAX_MESH_RULE_ENTRIES).optional(),
      methods: z.array(meshHttpMethodSchema).min(1).max(9).optional(),
    })
    .describe('Request constraints; every given list must match the request. {} matches every request.'),
  action: z.enum(POLICY_ACTIONS),
});

export const policyDocumentSchema = z
  .strictObject({
    kind: z.literal('mesh.policy.v1'),
    service: meshServiceNameSchema,
    mtls: z.strictObject({ mode: z.enum(MTLS_MODES) }),
    defaultAction: z.enum(POLICY_ACTIONS).default(DEFAULT_MESH_POLICY_ACTION),
    rules: z.array(meshPolicyRuleSchema).max(MAX_MESH_POLICY_RULES),
  })
  .meta({ title: 'mesh.policy.v1', description: 'Inbound authorization and mTLS mode of one service.' });

export type PolicyDocument = z.output<typeof policyDocumentSchema>;
export type PolicyDocumentInput = z.input<typeof policyDocumentSchema>;
export type MeshPolicyRule = PolicyDocument['rules'][number];

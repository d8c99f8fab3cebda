export { compilePolicy, EMPTY_POLICY_SNAPSHOT } from './compile-policy.js';
export { compileRoutes, EMPTY_ROUTES_SNAPSHOT, pickTarget } from './compile-routes.js';
export { compileMeshPayload, decodeMeshDocument } from './decode-document.js';
export * from './defaults.js';
export { type MeshEndpointSpec, parseMeshEndpointUrl } from './endpoint-schema.js';
export { type HeaderLookup, NO_HEADERS } from './header-matcher.js';
export { meshDocumentJsonSchema } from './json-schema.js';
export * from './names.js';
export * from './policy-schema.js';
export { compareRoutePrecedence } from './route-precedence.js';
export * from './routes-schema.js';
export { compileHeaderRegex, type HeaderRegex } from './safe-regex.js';
export { checkPolicySemantics, checkRoutesSemantics } from './semantic-checks.js';
export type * from './snapshot-types.js';
export { type MeshDocument, validateDocument } from './validate.js';
export {
  type AliasTable,
  aliasNumerators,
  aliasPick,
  aliasProbabilities,
  buildAliasTable,
} from './weighted-picker.js';

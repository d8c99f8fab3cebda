/** Reported in the OpenAPI document and health output. */
export const SERVER_VERSION = '0.1.0';

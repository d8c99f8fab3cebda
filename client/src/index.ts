export * from './core/clock.js';
export * from './core/errors.js';
export * from './core/model.js';
export * from './core/names.js';
export * from './core/resolve.js';
export * from './core/scope.js';
export * from './core/sha256.js';
export * from './core/validation.js';

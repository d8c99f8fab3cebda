import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (pkg: string) => fileURLToPath(new URL(`./${pkg}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    alias: {
      // Before '@meshpress/client', which would otherwise take it as a path below its index file.
      '@meshpress/client/sidecar': fileURLToPath(new URL('./client/src/sidecar/index.ts', import.meta.url)),
      '@meshpress/client': src('client'),
      '@meshpress/server': src('server'),
    },
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});

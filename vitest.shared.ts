// Shared vitest settings for every package and app.
// - Resolves workspace packages to their TypeScript source through the
//   `@switchyard/source` export condition, so tests never need a fresh build
//   of a dependency.
// - Writes test-results.json beside the package so `npm test` can print one
//   closing "N passed, N failed" line for the whole repo.
// - Test files run one at a time: integration suites start Redis servers and
//   app processes, and this machine has two cores.
import { defineConfig, type ViteUserConfig } from 'vitest/config';

export function defineProject(overrides: ViteUserConfig = {}): ViteUserConfig {
  const base = defineConfig({
    resolve: { conditions: ['@switchyard/source', 'node', 'import', 'default'] },
    ssr: { resolve: { conditions: ['@switchyard/source', 'node', 'import', 'default'] } },
    test: {
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      fileParallelism: false,
      testTimeout: 30_000,
      hookTimeout: 60_000,
      reporters: ['default', ['json', { outputFile: 'test-results.json' }]],
    },
  });
  return { ...base, ...overrides, test: { ...base.test, ...overrides.test } };
}

import { defineProject } from '../../vitest.shared.ts';

// The chaos suite runs real processes under faults: generous per-test bounds
// (each scenario also bounds itself), one file at a time (vitest.shared.ts),
// and a global teardown that prints the report table of every scenario run.
export default defineProject({
  test: {
    testTimeout: 180_000,
    hookTimeout: 120_000,
    globalSetup: ['./test/global-report.ts'],
  },
});

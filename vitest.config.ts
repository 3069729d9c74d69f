import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The browser tests serve dist/web: build it from the current sources first.
    globalSetup: ['test/helpers/web-build.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration and end-to-end files each create their own database; two
    // workers match the two cores of the CI machine.
    pool: 'forks',
    maxWorkers: 2,
  },
});

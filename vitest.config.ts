import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{collector,exporters,flamegraph,programs,deploy,bench}/**/*.test.ts'],
    // Kernel tests attach real programs and sample real workloads: they are slow and must not share CPUs.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});

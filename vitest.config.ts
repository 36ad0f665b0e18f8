import { configDefaults, defineConfig } from 'vitest/config';

// The kernel tests (test/kernels, one file per kernel family) run once per wasm build: one project per
// build, named after it so every line vitest prints says which build ran. test/kernels/setup.ts starts
// the build given by SIMDNET_BUILD before each file. Everything else runs once, in the 'simdnet' project.
const BUILDS = ['simd', 'scalar', 'threads'] as const;

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores: run files in parallel on both, no more (across all projects).
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: {
          name: 'simdnet',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'test/kernels/**'],
        },
      },
      ...BUILDS.map((build) => ({
        extends: true as const,
        test: {
          name: `kernels-${build}`,
          include: ['test/kernels/**/*.test.ts'],
          env: { SIMDNET_BUILD: build },
          setupFiles: ['test/kernels/setup.ts'],
        },
      })),
    ],
  },
});

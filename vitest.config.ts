import { defineConfig } from 'vitest/config';

// In CI a JSON report is written too, so .ci/run can print one "N passed, N failed" line.
const reportFile = process.env.KVM_S390_VITEST_REPORT;

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: reportFile ? ['default', ['json', { outputFile: reportFile }]] : ['default'],
  },
});

import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30000,
    hookTimeout: 30000,
    // Every test file starts its own servers on free ports. Much of a file's time is waiting (idle
    // times, back-offs, a minute's soak, browsers), so three files at once keep two cores busy: on
    // this machine 504 s for the suite, 87 % of both cores, against 611 s and 2 files at once.
    fileParallelism: true,
    maxWorkers: 3,
    reporters: ["default", "./test/support/summary-reporter.ts"],
  },
});

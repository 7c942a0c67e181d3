import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["*.test.ts"],
    testTimeout: 30_000,
    // One app, one database: the files share accounts and rate limits.
    fileParallelism: false,
  },
});

import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // One grantd for the whole run (global-setup.js), back to its seed before every test
    // (reset.js): the files must then take turns, or one file's reset would undo another's
    // tokens mid-test. For files in parallel, start a server per worker instead.
    globalSetup: ["./global-setup.js"],
    setupFiles: ["./reset.js"],
    fileParallelism: false,
  },
});

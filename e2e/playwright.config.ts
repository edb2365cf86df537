import { defineConfig } from "@playwright/test";
import type { Fixtures } from "./fixtures/test.js";

// Debian's chromium: this machine cannot download Playwright's own browser build.
const CHROMIUM = "/usr/bin/chromium";

export default defineConfig<Fixtures>({
  testDir: "./tests",
  testMatch: "**/*.spec.ts",
  workers: 2,
  fullyParallel: true,
  forbidOnly: true,
  retries: 0,
  reporter: "list",
  timeout: 20_000,
  expect: { timeout: 5_000 },
  use: {
    browserName: "chromium",
    headless: true,
    launchOptions: {
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
      ],
    },
  },
  // Every spec runs on both builds a page can load.
  projects: [
    { name: "script tag (IIFE)", use: { build: "script" } },
    // The dashboard's agent page loads the <script> build itself: one run is enough.
    { name: "bundled ESM", use: { build: "bundle" }, testIgnore: "**/dashboard.spec.ts" },
  ],
});

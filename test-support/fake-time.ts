// Fake time for the tests that assert when something happens: a test that measures
// real milliseconds fails on a loaded machine, one that moves a fake clock does not.
import { vi } from "vitest";

type FakeOptions = NonNullable<Parameters<typeof vi.useFakeTimers>[0]>;
type Faked = NonNullable<FakeOptions["toFake"]>;

/**
 * What bimux reads time from: the timers, and both clocks (core keeps its deadlines on
 * `performance.now()`, the wall clock only for messages). queueMicrotask and setImmediate
 * stay real: the in-memory duplex delivers on microtasks, and ws on I/O callbacks.
 */
export const BIMUX_CLOCKS: Faked = ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date", "performance"];

/**
 * Puts the test on fake time, then loads the modules it uses afresh with `load`.
 * Core keeps its timers in module state (one interval shared by every call's deadline,
 * one per keepalive interval): a copy loaded before would go on using an interval an
 * earlier test started on the real clock, and its deadlines would never come due on the
 * fake one. Call `vi.useRealTimers()` when the test ends (an afterEach).
 */
export async function onFakeTime<T>(load: () => Promise<T>, toFake: Faked = BIMUX_CLOCKS): Promise<T> {
  vi.useFakeTimers({ toFake });
  vi.resetModules();
  return load();
}

/** Settles the microtasks and zero-delay timers queued so far, without moving the fake clock. */
export async function settle(): Promise<void> {
  await vi.advanceTimersByTimeAsync(0);
}

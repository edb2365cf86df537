// Small helpers the test suites of every package share.
import { expect } from "vitest";
import { BimuxError } from "@bimux/core";

/** UTF-8 bytes of `s`. */
export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

/** `b` decoded as UTF-8. */
export const text = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `condition` holds, checking every few ms; fails the test after `ms`. */
export async function until(condition: () => boolean | Promise<boolean>, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await sleep(2);
  }
}

/** The BimuxError `p` rejects with; fails the test if it resolves or rejects with anything else. */
export async function rejection(p: Promise<unknown>): Promise<BimuxError> {
  try {
    await p;
  } catch (error) {
    expectBimuxError(error);
    return error as BimuxError;
  }
  throw new Error("expected a rejection");
}

/**
 * Asserts that `error` is a BimuxError. Tests on fake time load a fresh copy of core's modules
 * (whose timers keep module state), whose BimuxError is another class: so the test is by shape,
 * the error's name and a code, rather than by `instanceof` one copy's class.
 */
export function expectBimuxError(error: unknown): asserts error is BimuxError {
  expect(error).toBeInstanceOf(Error);
  expect((error as Error).name).toBe("BimuxError");
  expect(typeof (error as BimuxError).code).toBe("string");
}

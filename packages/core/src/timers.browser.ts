// The page's version of `timers.ts`, chosen by the `browser` build of this
// package: a page holds one connection and makes a few calls at a time, so a
// plain timer each costs it nothing, where the shared wheel of the server
// version would cost bytes. Same contract, same tests.
import type { Deadline, Ticking } from "./timers.js";

export type { Deadline, Ticking };

/** Calls `item.expire()` once `item.timeout` ms have passed, unless {@link stopDeadline} comes first. */
export function startDeadline(item: Deadline): void {
  item.slot = setTimeout(() => item.expire(), item.timeout);
}

export function stopDeadline(item: Deadline): void {
  clearTimeout(item.slot as ReturnType<typeof setTimeout>);
}

/** Calls `member.tick()` every `interval` ms until {@link leave}. */
export function join(interval: number, member: Ticking): void {
  member.timer = setInterval(() => member.tick(), interval);
}

export function leave(member: Ticking): void {
  // clearTimeout clears intervals too (they share one list, in the HTML spec as in Node),
  // and the page already names it for the deadlines.
  clearTimeout(member.timer as ReturnType<typeof setInterval>);
}

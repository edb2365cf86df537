// How bimux keeps time for the deadlines of outbound calls.
// Built for a server holding thousands of connections and hundreds of thousands
// of calls a second; a page, with a few calls at a time, runs the same code.

/** Something that expires at a deadline: an outbound call waiting for its reply. */
export interface Deadline {
  /** Milliseconds from now. */
  readonly timeout: number;
  /** Where the timers keep it, and its neighbours there; theirs alone. */
  slot: unknown;
  prev?: Deadline | undefined;
  next?: Deadline | undefined;
  /** The deadline passed. Called once, unless stopped first. */
  expire(): void;
}

// Rather than a timer per call (a quarter of the cost of a call under load), every
// deadline waits in a slot of TICK_MS, and one interval timer, shared by all
// connections and running only while some deadline waits, expires the slots that
// are due. A deadline fires at most TICK_MS late, never early. The monotonic clock,
// so that the wall clock stepping (NTP, a laptop waking) neither hangs nor hastens calls.
const TICK_MS = 10;
// A slot is a list through the deadlines themselves, not a Set: a Set of a thousand calls
// rebuilds its table as it grows and shrinks, every discarded table pointing at the next,
// and such a chain gets promoted whole once one link is old (see NumberTable). Nothing is
// allocated per deadline, and a deadline that leaves points nowhere.
/** The deadlines due in one tick, first to last added, and which tick that is. */
interface Slot {
  readonly due: number;
  head: Deadline | undefined;
  tail: Deadline | undefined;
}
const slots = new Map<number, Slot>();
let ticker: ReturnType<typeof setInterval> | undefined;
let lastTick = 0;
// Calls made close together share a slot: remember the last one to skip the lookup.
let lastDue = 0;
let lastSlot: Slot | undefined;

/** Calls `item.expire()` once `item.timeout` ms have passed, unless {@link stopDeadline} comes first. */
export function startDeadline(item: Deadline): void {
  const due = Math.ceil((performance.now() + item.timeout) / TICK_MS);
  // A slot not yet due is never expired, so the cached one is still in the map.
  let slot = due === lastDue ? lastSlot : undefined;
  if (!slot) {
    // The last slot, kept when it emptied (see stopDeadline), goes as another takes its place:
    // only that one slot is ever in the map empty.
    if (lastSlot && !lastSlot.head) slots.delete(lastSlot.due);
    slot = slots.get(due);
    if (!slot) {
      slot = { due, head: undefined, tail: undefined };
      slots.set(due, slot);
    }
  }
  lastDue = due;
  lastSlot = slot;
  // Last in line: they expire in the order they were started, as calls were made.
  const tail = slot.tail;
  item.prev = tail;
  item.next = undefined;
  if (tail) tail.next = item;
  else slot.head = item;
  slot.tail = item;
  item.slot = slot;
  if (!ticker) {
    lastTick = Math.floor(performance.now() / TICK_MS);
    ticker = setInterval(expireDue, TICK_MS);
    // In Node, waiting calls must not hold the process open by themselves: their connection does.
    (ticker as { unref?: () => void }).unref?.();
  }
}

export function stopDeadline(item: Deadline): void {
  const slot = item.slot as Slot | undefined;
  if (!slot) return;
  unlink(slot, item);
  // Most calls settle long before their deadline: an emptied slot goes at once, or it would
  // stay, and keep the interval running, for the whole timeout (30 s by default). All but the
  // last one made: the next call is likely due in the same tick, and a slot made and dropped
  // per call (one call in flight at a time) cost a Map insert and delete, and the Map's
  // rehashing, for each; the interval's next tick drops it if it is still empty then.
  if (slot.head || slot === lastSlot) return;
  if (slots.get(slot.due) === slot) slots.delete(slot.due);
  // The interval itself stops at its next tick if nothing waits by then: a caller making
  // one call after another would otherwise start and clear a timer for each.
}

function expireDue(): void {
  const now = Math.floor(performance.now() / TICK_MS);
  // Every slot since the last tick, in case the event loop was held up.
  for (; lastTick <= now; lastTick++) {
    const slot = slots.get(lastTick);
    if (!slot) continue;
    slots.delete(lastTick);
    if (slot === lastSlot) lastSlot = undefined;
    // Taken off before it expires, so that stopping it then does nothing; what an expiry
    // stops or adds in this slot meanwhile is seen, as the head is read each time.
    for (let item = slot.head; item; item = slot.head) {
      unlink(slot, item);
      item.expire();
    }
  }
  // The last slot made, kept when it emptied (see stopDeadline), goes once it is all that is left.
  if (slots.size === 1 && lastSlot && !lastSlot.head) {
    slots.delete(lastSlot.due);
    lastSlot = undefined;
  }
  if (!slots.size) {
    clearInterval(ticker);
    ticker = undefined;
  }
}

function unlink(slot: Slot, item: Deadline): void {
  const { prev, next } = item;
  if (prev) prev.next = next;
  else slot.head = next;
  if (next) next.prev = prev;
  else slot.tail = prev;
  // A deadline that left points nowhere: were it promoted and then dropped, its links
  // would still keep its former neighbours alive through scavenges.
  item.prev = item.next = item.slot = undefined;
}

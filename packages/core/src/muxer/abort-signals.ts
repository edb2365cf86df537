/** Something that waits on an `AbortSignal`: told once when it aborts, unless it stopped watching. */
export interface AbortWatcher {
  handleEvent(): void;
}

/** The watchers of one signal, and the one listener that tells them. */
interface Watched extends Set<AbortWatcher> {
  listener?: () => void;
}

/** Signals being watched. */
const watched = new WeakMap<AbortSignal, Watched>();

/**
 * Tells `watcher` when `signal` aborts, with one listener on the signal however many
 * calls share it: an application that passes one signal to thousands of calls would
 * otherwise add a listener for each (and Node warns past ten). The listener goes when
 * the last watcher stops watching.
 */
export function watch(signal: AbortSignal, watcher: AbortWatcher): void {
  let watchers = watched.get(signal);
  if (!watchers) {
    const all: Watched = (watchers = new Set());
    all.listener = () => {
      watched.delete(signal);
      // Each is told once, in the order they started watching; one that stops another meanwhile is fine.
      for (const each of [...all]) if (all.delete(each)) each.handleEvent();
    };
    watched.set(signal, all);
    signal.addEventListener("abort", all.listener, { once: true });
  }
  watchers.add(watcher);
}

/** Stops telling `watcher` of `signal`; the signal's listener goes with its last watcher. */
export function unwatch(signal: AbortSignal, watcher: AbortWatcher): void {
  const watchers = watched.get(signal);
  if (watchers?.delete(watcher) && !watchers.size) {
    watched.delete(signal);
    signal.removeEventListener("abort", watchers.listener!);
  }
}

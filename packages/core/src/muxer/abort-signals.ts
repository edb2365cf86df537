/** Something that waits on an `AbortSignal`: told once when it aborts, unless it stopped watching. */
export interface AbortWatcher {
  handleEvent(): void;
}

/** Signals being watched, each with its watchers. */
const watched = new WeakMap<AbortSignal, Set<AbortWatcher>>();

/**
 * Tells `watcher` when `signal` aborts, with one listener on the signal however many
 * calls share it: an application that passes one signal to thousands of calls would
 * otherwise add a listener for each (and Node warns past ten).
 */
export function watch(signal: AbortSignal, watcher: AbortWatcher): void {
  let watchers = watched.get(signal);
  if (!watchers) {
    const all = (watchers = new Set());
    watched.set(signal, all);
    signal.addEventListener(
      "abort",
      () => {
        watched.delete(signal);
        // Each is told once, in the order they started watching; one that stops another meanwhile is fine.
        for (const each of [...all]) if (all.delete(each)) each.handleEvent();
      },
      { once: true },
    );
  }
  watchers.add(watcher);
}

/** Stops telling `watcher` of `signal`. The signal keeps its one listener until it aborts or is collected. */
export function unwatch(signal: AbortSignal, watcher: AbortWatcher): void {
  watched.get(signal)?.delete(watcher);
}

// The few host APIs core relies on, declared here instead of pulling in the DOM
// or Node typings: core must build against both runtimes without assuming either.
// (The repository-wide typecheck excludes this file and uses Node's typings.)

type TimerHandle = { readonly __timerHandle?: never } | number;
declare function setTimeout<A extends unknown[]>(callback: (...args: A) => void, ms?: number, ...args: A): TimerHandle;
declare function clearTimeout(handle: TimerHandle | undefined): void;
declare function setInterval<A extends unknown[]>(callback: (...args: A) => void, ms?: number, ...args: A): TimerHandle;
declare function clearInterval(handle: TimerHandle | undefined): void;
declare function queueMicrotask(callback: () => void): void;
declare var performance: { now(): number };

interface AbortSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: "abort", listener: (() => void) | { handleEvent(): void }, options?: { once?: boolean }): void;
  removeEventListener(type: "abort", listener: (() => void) | { handleEvent(): void }): void;
}
declare var AbortController: {
  prototype: AbortController;
  new (): AbortController;
};
interface AbortController {
  readonly signal: AbortSignal;
  abort(reason?: unknown): void;
}

declare class TextEncoder {
  encode(input?: string): Uint8Array;
}
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean });
  decode(input?: Uint8Array): string;
}

declare class URL {
  constructor(url: string, base?: string);
  readonly host: string;
}

declare var console: {
  error(...data: unknown[]): void;
};

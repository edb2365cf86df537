/**
 * A stand-in for the browser's `WebSocket`, driven by the test: it enforces the
 * rules a real browser does (no send while connecting, close codes limited to
 * 1000 and 3000–4999) and records what the code under test did with it.
 */
export class FakeWebSocket extends EventTarget {
  /** Every socket made since the last {@link FakeWebSocket.reset}. */
  static made: FakeWebSocket[] = [];

  readonly url: string;
  readonly protocols: string[];
  binaryType: "blob" | "arraybuffer" = "blob";
  readyState = 0;
  protocol = "";
  bufferedAmount = 0;
  readonly sent: Uint8Array[] = [];
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;
  onclose: ((event: Event) => void) | null = null;
  /** The arguments of the first `close` call that did not throw. */
  closedWith: { code?: number; reason?: string } | undefined;

  constructor(url: string, protocols: string | string[] = []) {
    super();
    if (!/^wss?:\/\//.test(url)) throw new DOMException(`The URL '${url}' is invalid.`, "SyntaxError");
    this.url = url;
    this.protocols = typeof protocols === "string" ? [protocols] : protocols;
    FakeWebSocket.made.push(this);
  }

  /** Like a browser, delivers an event to its listeners and to its `on…` handler property. */
  override dispatchEvent(event: Event): boolean {
    const result = super.dispatchEvent(event);
    const handler = this[`on${event.type}` as "onopen"] as ((event: Event) => void) | null;
    handler?.call(this, event);
    return result;
  }

  static reset(): void {
    FakeWebSocket.made = [];
  }

  /** The one socket made, checking there is exactly one. */
  static only(): FakeWebSocket {
    if (FakeWebSocket.made.length !== 1) throw new Error(`expected one socket, got ${FakeWebSocket.made.length}`);
    return FakeWebSocket.made[0]!;
  }

  send(data: Uint8Array): void {
    if (this.readyState === 0) throw new DOMException("Still in CONNECTING state.", "InvalidStateError");
    // A browser silently drops what is sent on a closing socket.
    if (this.readyState === 1) this.sent.push(data.slice());
  }

  close(code?: number, reason = ""): void {
    if (code !== undefined && code !== 1000 && !(code >= 3000 && code <= 4999)) {
      throw new DOMException(`The code must be either 1000, or between 3000 and 4999. ${code} is neither.`, "InvalidAccessError");
    }
    if (this.readyState >= 2) return;
    this.closedWith = { code, reason };
    this.readyState = 2;
  }

  /** The server accepted the handshake, choosing `protocol`. */
  accept(protocol = ""): void {
    this.readyState = 1;
    this.protocol = protocol;
    this.dispatchEvent(new Event("open"));
  }

  /** A message arrived, as a browser with `binaryType` "arraybuffer" delivers it. */
  receive(data: Uint8Array | string): void {
    const payload = typeof data === "string" ? data : data.slice().buffer;
    this.dispatchEvent(new MessageEvent("message", { data: payload }));
  }

  /** The connection ended with `code`. */
  end(code: number, reason = ""): void {
    this.readyState = 3;
    this.dispatchEvent(Object.assign(new Event("close"), { code, reason, wasClean: code !== 1006 }));
  }

  /** The connection failed, as a browser reports it: an error event without detail, then close 1006. */
  fail(): void {
    this.dispatchEvent(new Event("error"));
    this.end(1006);
  }
}

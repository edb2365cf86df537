import { BimuxError } from "../errors.js";

interface RawReader {
  resolve(packet: Uint8Array): void;
  reject(error: BimuxError): void;
}

/**
 * Raw reads (Go `ReadPacket`): while reads wait, inbound messages go to them, in
 * order, before the muxer decodes them; used for a handshake before the muxing starts.
 *
 * Once a read is given a message, what arrives next is *held* until the next macrotask
 * rather than dispatched: the reader's continuation (microtasks) may read again, and a
 * peer's handshake messages often come in one burst. A hold ends by handing what it
 * kept on in order, to reads that wait by then or else to the muxer.
 */
export class RawReads {
  // Made when first needed: most connections never read raw.
  #readers: RawReader[] | undefined;
  #held: Uint8Array[] | undefined;
  #closed: ((operation: string) => BimuxError) | undefined;

  #inbound: { dispatch(data: Uint8Array): void };

  /** @param inbound where a message goes that no read wants: the muxer's decoding */
  constructor(inbound: { dispatch(data: Uint8Array): void }) {
    this.#inbound = inbound;
  }

  /** The next inbound binary message, raw. Rejects with `aborted` when `signal` fires, `closed` once closed. */
  read(signal: AbortSignal | undefined): Promise<Uint8Array> {
    return new Promise<Uint8Array>((resolve, reject) => {
      // The listener goes as the read settles, not a `finally` later: a `finally` would settle
      // a read with a signal some microtasks after a read without one, out of order.
      const done = () => signal?.removeEventListener("abort", aborted);
      const reader: RawReader = {
        resolve: (packet) => (done(), resolve(packet)),
        reject: (error) => (done(), reject(error)),
      };
      const aborted = () => {
        this.#readers = this.#readers?.filter((r) => r !== reader);
        reader.reject(new BimuxError("aborted", "readPacket was aborted", { cause: signal!.reason }));
      };
      if (this.#closed) reader.reject(this.#closed("readPacket"));
      else if (signal?.aborted) aborted();
      else if (this.#held?.length) reader.resolve(this.#held.shift()!);
      else {
        (this.#readers ??= []).push(reader);
        signal?.addEventListener("abort", aborted);
      }
    });
  }

  /**
   * Offers an inbound message to the raw reads. True when they took it (a read got it,
   * or a hold keeps it); false when it is the muxer's to decode.
   */
  take(data: Uint8Array): boolean {
    // While a hold lasts, a read already waiting comes first; else the message waits its turn.
    const reader = this.#readers?.shift();
    if (this.#held) {
      if (reader) reader.resolve(data);
      else this.#held.push(data);
      return true;
    }
    if (!reader) return false;
    reader.resolve(data);
    const held: Uint8Array[] = (this.#held = []);
    setTimeout(() => this.#release(held), 0);
    return true;
  }

  /** Ends every hold at once, before a close or a violation: what is held arrived before it. */
  releaseAll(): void {
    while (this.#held) this.#release(this.#held);
  }

  /** The connection closed: every read waiting rejects, and later ones at once, with `error(operation)`. */
  close(error: (operation: string) => BimuxError): void {
    this.#closed = error;
    this.#readers?.forEach((reader) => reader.reject(error("readPacket")));
    this.#readers = undefined;
  }

  /** Ends a hold: what it kept goes on in order, to reads that wait or else to the muxer. */
  #release(held: Uint8Array[]): void {
    if (this.#held !== held) return;
    this.#held = undefined;
    while (held.length && !this.#held) {
      const data = held.shift()!;
      if (!this.take(data)) this.#inbound.dispatch(data);
    }
    // A read given one of them started a new hold: the rest wait in that one, in order.
    (this.#held as Uint8Array[] | undefined)?.push(...held);
  }
}

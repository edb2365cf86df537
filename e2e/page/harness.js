// Helpers the specs use inside the page. They are test plumbing only: every bimux
// call a spec makes goes through window.bimux, the bundle as a user loads it.
"use strict";
(() => {
  const id = new URLSearchParams(location.search).get("id") ?? "";
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();

  window.harness = {
    id,
    wsUrl: `ws://${location.host}/mux?id=${encodeURIComponent(id)}`,
    scratch: {},
    encode: (text) => encoder.encode(text),
    decode: (bytes) => decoder.decode(bytes),
    randomBytes(size) {
      const bytes = new Uint8Array(size);
      // getRandomValues fills at most 64 KiB per call.
      for (let at = 0; at < size; at += 65536) crypto.getRandomValues(bytes.subarray(at, Math.min(size, at + 65536)));
      return bytes;
    },
    async sha256(bytes) {
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
      return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
    },
    describe(error) {
      return {
        isBimuxError: error instanceof window.bimux.BimuxError,
        code: error?.code,
        remote: error?.remote,
        rawMessage: error?.rawMessage ?? String(error),
      };
    },
  };
})();

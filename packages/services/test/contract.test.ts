import { BimuxError, type CallContext } from "@bimux/core";
import { describe, expect, it, vi } from "vitest";
import { combineHandlers, createClient, defineService, implement, jsonCodec, serviceHandlers, type Codec } from "@bimux/services";
import { bytes, rejection, text, until } from "../../../test-support/helpers.js";
import { aborted, pair } from "./pair.js";

/** The contract: what a page serves. */
const Tab = defineService<{ getTitle(req: { tabId: number }): { title: string }; notify(n: { text: string }): void }>(
  { getTitle: { route: 1 }, notify: { route: 10, oneway: true } },
  { name: "Tab" },
);

/** What a server serves. */
interface DirectoryMethods {
  lookup(req: { name: string }): Promise<{ id: number; tags: string[] }>;
  wait(req: { ms?: number }): { waited: boolean };
  bigint(req: Record<string, never>): { n: number };
}
const Directory = defineService<DirectoryMethods>(
  { lookup: { route: 100 }, wait: { route: 101 }, bigint: { route: 102 } },
  { name: "Directory" },
);

describe("contracts: defineService, createClient, implement", () => {
  it("the server calls the page's service and the page the server's, typed both ways, JSON on the wire", async () => {
    const { server, page } = pair();
    const notes: string[] = [];
    implement(page, Tab, {
      getTitle: (req) => ({ title: `tab ${req.tabId}` }),
      notify(note) {
        notes.push(note.text);
      },
    });
    implement(server, Directory, {
      lookup: async ({ name }) => ({ id: name.length, tags: [name, "x"] }),
      wait: () => ({ waited: false }),
      bigint: () => ({ n: 1 }),
    });
    const tab = createClient(Tab, server);
    const directory = createClient(Directory, page);

    expect(await tab.getTitle({ tabId: 7 })).toEqual({ title: "tab 7" });
    expect(await directory.lookup({ name: "abc" }, { timeout: 1000 })).toEqual({ id: 3, tags: ["abc", "x"] });
    await expect(tab.notify({ text: "hello" })).resolves.toBeUndefined();
    await until(() => notes.length === 1);
    expect(notes).toEqual(["hello"]);
    // JSON in UTF-8 on the route declared: what a raw call sees.
    expect(text(await server.rpc(1, bytes('{"tabId":2}')))).toBe('{"title":"tab 2"}');
  });

  it("a handler's BimuxError reaches the caller with its code; anything else thrown arrives as remote", async () => {
    const { server, page } = pair();
    implement(page, Tab, {
      getTitle({ tabId }) {
        if (tabId === 404) throw new BimuxError("not_found", `no tab ${tabId}`);
        throw new Error("broken");
      },
      notify() {},
    });
    const tab = createClient(Tab, server);
    const missing = await rejection(tab.getTitle({ tabId: 404 }));
    expect([missing.code, missing.rawMessage, missing.remote]).toEqual(["not_found", "no tab 404", true]);
    const broken = await rejection(tab.getTitle({ tabId: 1 }));
    expect([broken.code, broken.rawMessage]).toEqual(["remote", "broken"]);
  });

  it("a request that fails to decode is answered invalid_argument; a route nobody serves unimplemented", async () => {
    const { server, page } = pair();
    implement(page, Tab, { getTitle: () => ({ title: "t" }), notify() {} });
    const bad = await rejection(server.rpc(1, bytes("{not json")));
    expect(bad.code).toBe("invalid_argument");
    expect(bad.rawMessage).toMatch(/^Tab\.getTitle: the request cannot be decoded/);
    // Not UTF-8 at all.
    expect((await rejection(server.rpc(1, Uint8Array.of(0xff, 0xfe)))).code).toBe("invalid_argument");
    // The page implements Tab, not Directory.
    expect((await rejection(createClient(Directory, server).lookup({ name: "a" }))).code).toBe("unimplemented");
  });

  it("a request that cannot be encoded rejects invalid_argument without a call; a reply that cannot, internal", async () => {
    const { server, page } = pair();
    const served = vi.fn(() => ({ n: 10n as unknown as number }));
    implement(page, Directory, { lookup: async () => ({ id: 1, tags: [] }), wait: () => ({ waited: true }), bigint: served });
    const directory = createClient(Directory, server);
    const cyclic: { name: string; self?: unknown } = { name: "a" };
    cyclic.self = cyclic;
    const request = await rejection(directory.lookup(cyclic));
    expect([request.code, request.remote]).toEqual(["invalid_argument", false]);
    expect(server.pendingCalls).toBe(0);
    // JSON cannot hold a bigint: the handler's reply fails on the page, and the caller is told.
    const reply = await rejection(directory.bigint({}));
    expect([reply.code, reply.remote]).toEqual(["internal", true]);
    expect(reply.rawMessage).toMatch(/^Directory\.bigint: the reply cannot be encoded/);
  });

  it("a reply that fails to decode rejects internal", async () => {
    const { server, page } = pair();
    page.handle(1, () => bytes("<html>"));
    const error = await rejection(createClient(Tab, server).getTitle({ tabId: 1 }));
    expect([error.code, error.remote]).toEqual(["internal", false]);
    expect(error.rawMessage).toMatch(/^Tab\.getTitle: the reply cannot be decoded/);
  });

  it("deadlines and cancellation pass through as for raw calls: ctx.timeout, ctx.signal", async () => {
    const { server, page } = pair();
    const contexts: CallContext[] = [];
    const reasons: unknown[] = [];
    implement(page, Directory, {
      lookup: async () => ({ id: 0, tags: [] }),
      async wait(_req, ctx) {
        contexts.push(ctx);
        reasons.push(await aborted(ctx.signal));
        return { waited: true };
      },
      bigint: () => ({ n: 0 }),
    });
    const directory = createClient(Directory, server);
    const timedOut = await rejection(directory.wait({}, { timeout: 50 }));
    expect(timedOut.code).toBe("timeout");
    await until(() => reasons.length === 1);
    expect(contexts[0]).toMatchObject({ timeout: 50, route: 101 });
    // The handler's own deadline timer, or the caller's cancel when its timeout passed, whichever comes first.
    expect(["timeout", "aborted"]).toContain((reasons[0] as BimuxError).code);

    const controller = new AbortController();
    const pending = rejection(directory.wait({}, { signal: controller.signal }));
    await until(() => contexts.length === 2);
    controller.abort();
    expect((await pending).code).toBe("aborted");
    await until(() => reasons.length === 2);
    expect((reasons[1] as BimuxError).code).toBe("aborted");
  });

  it("the implementation gets the calling peer, and calls it back with a client", async () => {
    const { server, page } = pair();
    implement(page, Tab, { getTitle: () => ({ title: "the page" }), notify() {} });
    implement(server, Directory, {
      // The server asks the page that called for its title: a call in the middle of a call.
      lookup: async (_req, _ctx, peer) => ({ id: 1, tags: [(await createClient(Tab, peer).getTitle({ tabId: 1 })).title] }),
      wait: () => ({ waited: false }),
      bigint: () => ({ n: 0 }),
    });
    expect(await createClient(Directory, page).lookup({ name: "?" })).toEqual({ id: 1, tags: ["the page"] });
  });

  it("an implementation may be a class instance: its methods are called with it as this", async () => {
    const { server, page } = pair();
    class TabImpl {
      title = "from this";
      getTitle() {
        return { title: this.title };
      }
      notify() {}
    }
    implement(page, Tab, new TabImpl());
    expect(await createClient(Tab, server).getTitle({ tabId: 1 })).toEqual({ title: "from this" });
  });

  it("a pluggable codec: the bytes are the codec's", async () => {
    // A codec of its own (as CBOR or MessagePack would be): JSON after a version byte.
    const versioned: Codec = {
      encode: (value) => Uint8Array.of(1, ...jsonCodec.encode(value)),
      decode: (data) => {
        if (data[0] !== 1) throw new Error(`version ${data[0]}`);
        return jsonCodec.decode(data.subarray(1));
      },
    };
    const Echo = defineService<{ echo(req: { s: string }): { s: string } }>({ echo: { route: 5 } }, { codec: versioned, name: "Echo" });
    const { server, page } = pair();
    implement(page, Echo, { echo: ({ s }) => ({ s: s.toUpperCase() }) });
    expect(await createClient(Echo, server).echo({ s: "abc" })).toEqual({ s: "ABC" });
    expect(Array.from(await server.rpc(5, versioned.encode({ s: "x" })))).toEqual(Array.from(versioned.encode({ s: "X" })));
    const wrong = await rejection(server.rpc(5, bytes('{"s":"x"}')));
    expect([wrong.code, wrong.rawMessage]).toEqual(["invalid_argument", `Echo.echo: the request cannot be decoded: version ${"{".charCodeAt(0)}`]);
  });
});

describe("contracts: routes are checked at startup", () => {
  it("a missing route, a route that is no int32, or two methods on one route: invalid_argument from defineService", () => {
    const define = (spec: object) => () => defineService<Record<string, (r: unknown) => unknown>>(spec as never, { name: "S" });
    const cases: Array<[object, RegExp]> = [
      [{ a: {} }, /^S\.a has no route/],
      [{ a: { route: 1.5 } }, /^S\.a has no route: an int32 is needed, got 1\.5/],
      [{ a: { route: 2 ** 31 } }, /^S\.a has no route/],
      [{ a: { route: 3 }, b: { route: 3 } }, /^S\.b and S\.a are both on route 3$/],
      [{}, /^service S has no methods$/],
    ];
    for (const [spec, message] of cases) {
      const error = (() => {
        try {
          define(spec)();
        } catch (error) {
          return error as BimuxError;
        }
        throw new Error(`accepted ${JSON.stringify(spec)}`);
      })();
      expect(error).toBeInstanceOf(BimuxError);
      expect(error.code).toBe("invalid_argument");
      expect(error.rawMessage).toMatch(message);
    }
  });

  it("two services on one route of one muxer: already_exists from implement, and nothing of the second is registered", async () => {
    const { server, page } = pair();
    const Rival = defineService<{ ping(r: { a: number }): { b: number }; other(r: { a: number }): { b: number } }>(
      { other: { route: 50 }, ping: { route: 1 } },
      { name: "Rival" },
    );
    implement(page, Tab, { getTitle: () => ({ title: "tab" }), notify() {} });
    const error = (() => {
      try {
        implement(page, Rival, { ping: () => ({ b: 1 }), other: () => ({ b: 2 }) });
      } catch (error) {
        return error as BimuxError;
      }
    })();
    expect([error?.code, error?.rawMessage]).toEqual(["already_exists", "Rival.ping is on route 1, which Tab.getTitle already serves"]);
    // All or nothing: Rival's other route was not taken either.
    expect((await rejection(server.rpc(50, bytes("{}")))).code).toBe("unimplemented");
    // Another muxer is another set of routes.
    const other = pair();
    implement(other.page, Rival, { ping: () => ({ b: 1 }), other: () => ({ b: 2 }) });
    expect(await createClient(Rival, other.server).ping({ a: 1 })).toEqual({ b: 1 });
  });

  it("implement's remover frees the routes: the service is unimplemented, and another may take them", async () => {
    const { server, page } = pair();
    const remove = implement(page, Tab, { getTitle: () => ({ title: "one" }), notify() {} });
    remove();
    expect((await rejection(createClient(Tab, server).getTitle({ tabId: 1 }))).code).toBe("unimplemented");
    implement(page, Tab, { getTitle: () => ({ title: "two" }), notify() {} });
    expect(await createClient(Tab, server).getTitle({ tabId: 1 })).toEqual({ title: "two" });
  });

  it("a method without a function: invalid_argument from implement; something not a service: from createClient", () => {
    const { page } = pair();
    expect(() => implement(page, Tab, { getTitle: () => ({ title: "" }) } as never)).toThrow(
      expect.objectContaining({ code: "invalid_argument", rawMessage: "Tab.notify is not implemented: no function notify" }),
    );
    expect(() => createClient({} as never, page)).toThrow(expect.objectContaining({ code: "invalid_argument" }));
  });

  it("serviceHandlers gives every connection the service through the muxer options; combineHandlers refuses a collision", async () => {
    const tabHandlers = serviceHandlers(Tab, { getTitle: ({ tabId }) => ({ title: `#${tabId}` }), notify() {} });
    const directoryHandlers = serviceHandlers(Directory, {
      lookup: async () => ({ id: 2, tags: [] }),
      wait: () => ({ waited: true }),
      bigint: () => ({ n: 0 }),
    });
    const { server, page } = pair({}, combineHandlers(tabHandlers, directoryHandlers));
    expect(await createClient(Tab, server).getTitle({ tabId: 3 })).toEqual({ title: "#3" });
    expect(await createClient(Directory, server).wait({})).toEqual({ waited: true });
    const Clash = defineService<{ x(r: number): number }>({ x: { route: 101 } }, { name: "Clash" });
    expect(() => combineHandlers(directoryHandlers, serviceHandlers(Clash, { x: (r) => r }))).toThrow(
      expect.objectContaining({ code: "already_exists", rawMessage: "Clash.x is on route 101, which Directory.wait already serves" }),
    );
    void page;
  });
});

describe("@bimux/services/contract, the entry without the protobuf runtime", () => {
  it("serves and calls contracts as the main entry does, and refuses a protobuf service with invalid_argument", async () => {
    const light = await import("@bimux/services/contract");
    const { Tab: ProtoTab } = await import("./gen/demo/v1/tab_pb.js");
    const { server, page } = pair();
    light.implement(page, Tab, { getTitle: ({ tabId }) => ({ title: `light ${tabId}` }), notify() {} });
    expect(await light.createClient(Tab, server).getTitle({ tabId: 4 })).toEqual({ title: "light 4" });
    expect(() => light.createClient(ProtoTab, server)).toThrow(
      expect.objectContaining({ code: "invalid_argument", rawMessage: "a protobuf service needs the full @bimux/services, not @bimux/services/contract" }),
    );
  });
});

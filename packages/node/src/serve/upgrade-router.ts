import type { IncomingMessage, Server as HttpServer } from "node:http";
import type { Server as HttpsServer } from "node:https";
import type { Duplex as NodeStream } from "node:stream";
import { refuseUpgrade } from "./upgrade-gate.js";
import { logRefusal } from "../log.js";

/** What a bimux server does with an upgrade request on its path. */
export type UpgradeHandler = (request: IncomingMessage, socket: NodeStream, head: Buffer) => void;

/**
 * The upgrade requests of one HTTP server, by path, for every bimux server attached
 * to it: one `upgrade` listener for all of them, which finds the one that owns the
 * path (or the one that takes every path). A path nobody owns is answered 404,
 * unless the HTTP server has upgrade listeners of its own (another WebSocket
 * library, say), which may own it: then it is theirs to answer.
 */
class UpgradeRouter {
  readonly #routes = new Map<string | undefined, UpgradeHandler>();

  constructor(readonly http: HttpServer | HttpsServer) {}

  readonly listener = (request: IncomingMessage, socket: NodeStream, head: Buffer): void => {
    const handler = this.#routes.get(pathOf(request)) ?? this.#routes.get(undefined);
    if (!handler && this.http.listenerCount("upgrade") === 1) logRefusal(request, 404, `no bimux server on path ${pathOf(request)}`);
    if (handler) handler(request, socket, head);
    else if (this.http.listenerCount("upgrade") === 1) refuseUpgrade(socket, 404);
  };

  /** Routes `path` (every path, for `undefined`) to `handler`; throws if a bimux server has it already. */
  add(path: string | undefined, handler: UpgradeHandler): void {
    if (this.#routes.has(path)) throw new Error(path === undefined ? "a bimux server already takes every path here" : `a bimux server already serves ${path} here`);
    this.#routes.set(path, handler);
  }

  /** Stops routing `path`; false once no route is left. */
  remove(path: string | undefined): boolean {
    this.#routes.delete(path);
    return this.#routes.size > 0;
  }
}

const routers = new WeakMap<HttpServer | HttpsServer, UpgradeRouter>();

/** Takes the upgrades to `path` on `http` for `handler`; returns what stops it again. */
export function route(http: HttpServer | HttpsServer, path: string | undefined, handler: UpgradeHandler): () => void {
  let router = routers.get(http);
  if (!router) {
    routers.set(http, (router = new UpgradeRouter(http)));
    http.on("upgrade", router.listener);
  }
  router.add(path, handler);
  const owner = router;
  return () => {
    if (!owner.remove(path)) {
      http.off("upgrade", owner.listener);
      routers.delete(http);
    }
  };
}

/** The path of a request's URL, without its query. */
export function pathOf(request: IncomingMessage): string {
  const url = request.url ?? "/";
  const query = url.indexOf("?");
  return query < 0 ? url : url.slice(0, query);
}

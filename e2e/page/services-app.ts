// The typed page of the services spec, bundled by fixtures/app.ts with esbuild from the built
// packages, as an application's bundler would (with the `production` condition for the
// production project). It serves Tab from its first frame and exposes its clients of the
// server's Directory and Greeter on window.typed for the spec's page.evaluate.
import * as bimux from "@bimux/browser";
import { BimuxError, dial } from "@bimux/browser";
import { createClient, serviceHandlers } from "@bimux/services";
import { Directory, Tab } from "../../packages/services/test/gen/demo/v1/tab_pb.js";
import { Greeter } from "./services-contract.js";

// harness.describe reads BimuxError from here, as on the other test pages.
window.bimux = bimux;
const notes: string[] = [];

async function start(): Promise<void> {
  const muxer = await dial(window.harness.wsUrl, {
    ...serviceHandlers(Tab, {
      getTitle: ({ tabId }) => {
        if (tabId !== 1) throw new BimuxError("not_found", `no tab ${tabId} in this page`);
        return { title: document.title };
      },
      notify: ({ text }) => void notes.push(text),
    }),
  });
  const directory = createClient(Directory, muxer);
  const greeter = createClient(Greeter, muxer);
  window.typed = {
    notes,
    lookup: async (name) => {
      try {
        const { id, tags } = await directory.lookup({ name }, { timeout: 2000 });
        // A bigint does not survive page.evaluate: its text does.
        return { ok: true, id: String(id), tags };
      } catch (error) {
        return { ok: false, error: window.harness.describe(error) };
      }
    },
    greet: async (name) => (await greeter.greet({ name })).text,
  };
}

window.typedReady = start();

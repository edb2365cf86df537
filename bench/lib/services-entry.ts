// What bench/services.mjs needs of the typed layer, bundled by it with esbuild: the
// generated test services are TypeScript, and the packages stay external (their dist/).
export { Directory, EchoMessageSchema } from "../../packages/services/test/gen/demo/v1/tab_pb.js";
export { createClient, defineService, implement } from "@bimux/services";
export { createDuplexPair } from "@bimux/core/testing";

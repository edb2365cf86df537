// A TypeScript contract the e2e server serves and its page calls, next to the protobuf
// services of packages/services/test/proto (Tab on the page, Directory on the server).
import { defineService } from "@bimux/services/contract";

export const Greeter = defineService<{ greet(req: { name: string }): { text: string } }>({ greet: { route: 300 } }, { name: "Greeter" });

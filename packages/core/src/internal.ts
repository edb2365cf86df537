/**
 * @internal What @bimux/browser takes from core beyond its API: it compiles core from
 * its sources (see packages/browser/tsup.config.ts), so this is no published entry point,
 * and none of it is part of bimux's API.
 */
export { checkTimeout } from "./muxer.js";
export { text } from "./text.js";

// Types of the <script> build (dist/bimux.global.js), which puts the package's API on
// `window.bimux` rather than exporting it: `import "@bimux/browser/bimux.global.js"`
// (or a triple-slash reference) gives a page's code the global's types.
import type * as api from "../dist/index.js";

declare global {
  /** @bimux/browser's API, as the `<script>` build puts it on the page. */
  var bimux: typeof api;
}

export {};

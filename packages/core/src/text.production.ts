/**
 * @internal What the production build of @bimux/browser uses in place of text.ts: its
 * messages were rewritten into `text(id, …values)` (scripts/messages.mjs), and ERRORS.md
 * in the package (docs/errors.md in the repository) gives the text of each id.
 */
export function text(id: number, ...values: unknown[]): string {
  return `bimux error ${id}${values.length ? ` (${values.join(", ")})` : ""}`;
}

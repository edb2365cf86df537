/**
 * @internal What the production build of @bimux/browser uses in place of text.ts: its
 * messages were rewritten into `text(id, …values)` (scripts/messages.mjs), and ERRORS.md
 * in the package (docs/errors.md in the repository) gives the text of each id.
 */
export function text(id: number, ...values: unknown[]): string {
  // Each value as text.ts shows it (a template literal's ToString): join() alone would print
  // undefined and null as nothing.
  return `bimux error ${id}${values.length ? ` (${values.map((value) => `${value}`).join(", ")})` : ""}`;
}

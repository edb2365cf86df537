/**
 * @internal bimux's own messages are written text`…`, which joins them as a template
 * literal does. The production build of @bimux/browser (its `production` export
 * condition, which Vite and webpack pick for production bundles) rewrites each one at
 * build time into `text(id, …values)` and uses text.production.ts instead of this file:
 * a number and the values instead of the prose, which is a twelfth of a page's bimux.
 * Error codes stay as they are. See scripts/messages.mjs and docs/errors.md.
 */
export function text(template: TemplateStringsArray, ...values: unknown[]): string {
  return template.reduce((message, part, i) => `${message}${values[i - 1]}${part}`);
}

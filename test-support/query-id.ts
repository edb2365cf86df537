// How the test servers name their peers: `?id=` in the upgrade URL, vouched for by their
// `authenticate` (as the README's recipe does with a real credential). No dependency, so that
// Bun fixtures and bundled node processes can import it as well as the tests.

/** `authenticate`'s verdict for an upgrade to `url` (a path or a whole URL): its `?id=` as the peer's id, else accepted unnamed. */
export function queryId(url: string | undefined): { id: string } | true {
  const id = new URL(url ?? "/", "http://localhost").searchParams.get("id");
  return id ? { id } : true;
}

/**
 * The NATS subjects of one cluster, all under one prefix (default `bimux`) so that
 * several clusters, or other applications, share a NATS server without meeting.
 *
 * | subject | who listens | what |
 * | --- | --- | --- |
 * | `<p>.peer.<id>.call` | the node holding peer `<id>` | rpc and send requests to that peer |
 * | `<p>.peer.<id>.cancel` | the same node | the caller gave up on a call: abort it |
 * | `<p>.peer.<id>.claim` | the same node | "who holds `<id>`?", asked before a node takes an id |
 * | `<p>.presence.change` | every node | a node's peers that joined and left, numbered |
 * | `<p>.presence.beat` | every node | a node is alive, and how far its numbering is |
 * | `<p>.presence.hello` | every node | a node (re)joined: everyone beat now |
 * | `<p>.presence.bye` | every node | a node leaves the cluster |
 * | `<p>.node.<node>.snapshot` | that node | the full list of its peers, a page at a time |
 */
export class Subjects {
  readonly change: string;
  readonly beat: string;
  readonly hello: string;
  readonly bye: string;

  constructor(readonly prefix: string) {
    if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(prefix)) {
      throw new TypeError(`subject prefix must be dot-separated tokens of letters, digits, '-' and '_', got "${prefix}"`);
    }
    this.change = `${prefix}.presence.change`;
    this.beat = `${prefix}.presence.beat`;
    this.hello = `${prefix}.presence.hello`;
    this.bye = `${prefix}.presence.bye`;
  }

  /** Everything sent to peer `id`: what its holding node subscribes to, one subscription a peer. */
  peerAll(id: string): string {
    return `${this.prefix}.peer.${token(id)}.*`;
  }

  /** Where calls to peer `id` go. */
  call(id: string): string {
    return `${this.prefix}.peer.${token(id)}.call`;
  }

  /** Where cancellations of calls to peer `id` go. */
  cancel(id: string): string {
    return `${this.prefix}.peer.${token(id)}.cancel`;
  }

  /** Where a node asks who holds `id`. */
  claim(id: string): string {
    return `${this.prefix}.peer.${token(id)}.claim`;
  }

  /** Where node `node` answers for its list of peers. */
  snapshot(node: string): string {
    return `${this.prefix}.node.${token(node)}.snapshot`;
  }
}

/**
 * `value` as one subject token. Ids of letters, digits, `-` and `_` stay as they are, so
 * that subjects read well in monitoring; any other id (dots, spaces, wildcards, non-ASCII,
 * empty) becomes `~` and its UTF-8 in base64url, which never clashes with a plain one
 * since a plain one has no `~`.
 */
export function token(value: string): string {
  return /^[A-Za-z0-9_-]+$/.test(value) ? value : `~${Buffer.from(value, "utf8").toString("base64url")}`;
}

/** The last token of `subject`: what a message to `<p>.peer.<id>.*` asks for. */
export function lastToken(subject: string): string {
  return subject.slice(subject.lastIndexOf(".") + 1);
}

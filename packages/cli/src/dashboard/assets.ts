// The dashboard's pages: plain HTML and a small script each, no framework and no
// build step, so the package serves them from memory. Peer ids and replies come from
// clients: the scripts put them in the page with textContent only, never as HTML.

const STYLE = `<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #222; }
  h1 { font-size: 1.3rem; } h2 { font-size: 1.05rem; margin-top: 1.5rem; }
  table { border-collapse: collapse; min-width: 40rem; }
  th, td { text-align: left; padding: .25rem .75rem .25rem 0; border-bottom: 1px solid #ddd; }
  td.n { text-align: right; font-variant-numeric: tabular-nums; }
  form { display: grid; grid-template-columns: max-content 24rem; gap: .4rem .75rem; align-items: center; }
  textarea { height: 4rem; } pre { background: #f5f5f5; padding: .5rem; white-space: pre-wrap; }
  .error { color: #a00; } .muted { color: #777; }
</style>`;

/** The dashboard: live peers, and a form to call any of them. */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>bimux dashboard</title>${STYLE}</head>
<body>
<h1>bimux dashboard</h1>
<p class="muted">Admin surface: whoever can open this page can call every peer. Open <a href="agent" target="_blank">the demo agent</a> to see a page behind NAT being called.</p>
<h2>Peers (<span id="count">0</span>) <span id="status" class="muted">connecting…</span></h2>
<table><thead><tr><th>id</th><th>remote address</th><th>connected since</th><th>calls in</th><th>calls out</th><th>RTT ms</th><th>bytes queued</th></tr></thead>
<tbody id="peers"></tbody></table>
<h2>Call a peer</h2>
<form id="call">
  <label for="peer">peer</label><select id="peer" name="peer" required></select>
  <label for="route">route</label><input id="route" name="route" type="number" value="1" required>
  <label for="data">data</label><textarea id="data" name="data"></textarea>
  <label for="encoding">encoding</label><select id="encoding" name="encoding"><option>utf8</option><option>json</option><option>hex</option><option>base64</option></select>
  <span></span><button type="submit">Call</button>
</form>
<h2>Result</h2>
<pre id="result" class="muted">no call yet</pre>
<script src="dashboard.js"></script>
</body></html>
`;

export const DASHBOARD_JS = `"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const cell = (text, numeric) => { const td = document.createElement("td"); td.textContent = text; if (numeric) td.className = "n"; return td; };
  function render(peers) {
    $("count").textContent = String(peers.length);
    const rows = peers.map((p) => {
      const tr = document.createElement("tr");
      tr.dataset.peer = p.id;
      tr.append(cell(p.id), cell(p.remoteAddress + ":" + p.remotePort), cell(new Date(p.connectedAt).toLocaleTimeString()),
        cell(String(p.callsIn), true), cell(String(p.callsOut), true), cell(p.rtt === null ? "–" : p.rtt.toFixed(1), true), cell(String(p.bufferedAmount), true));
      return tr;
    });
    $("peers").replaceChildren(...rows);
    const select = $("peer"), chosen = select.value;
    select.replaceChildren(...peers.map((p) => { const o = document.createElement("option"); o.value = o.textContent = p.id; return o; }));
    if (peers.some((p) => p.id === chosen)) select.value = chosen;
  }
  // Server-Sent Events: the server pushes the list when a peer comes or goes; EventSource reconnects by itself.
  const events = new EventSource("api/events");
  events.addEventListener("peers", (event) => render(JSON.parse(event.data)));
  events.onopen = () => { $("status").textContent = "live"; };
  events.onerror = () => { $("status").textContent = "reconnecting…"; };
  $("call").addEventListener("submit", async (event) => {
    event.preventDefault();
    const result = $("result");
    result.className = "muted";
    result.textContent = "calling…";
    const body = { peer: $("peer").value, route: Number($("route").value), data: $("data").value, encoding: $("encoding").value };
    try {
      const response = await fetch("api/call", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      const answer = await response.json();
      if (answer.ok) { result.className = "reply"; result.textContent = answer.data; }
      else { result.className = "error"; result.textContent = "[" + answer.error.code + "] " + answer.error.message; }
    } catch (error) {
      result.className = "error";
      result.textContent = String(error);
    }
  });
})();
`;

/** The demo agent: a page that dials in and answers the server's calls. */
export const AGENT_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>bimux demo agent</title>${STYLE}</head>
<body>
<h1>bimux demo agent</h1>
<p>This page dialed out to the server; the server calls it. Routes: <b>1</b> this page's title, <b>2</b> a counter, <b>3</b> echo.</p>
<p>Status: <span id="status">connecting…</span></p>
<p>Calls answered: <span id="counter">0</span></p>
<h2>Calls received</h2>
<pre id="log"></pre>
<script src="bimux.global.js"></script>
<script src="agent.js"></script>
</body></html>
`;

export const AGENT_JS = `"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const encoder = new TextEncoder(), decoder = new TextDecoder();
  let counter = 0;
  const log = (route, data) => {
    $("log").textContent = "route " + route + ": " + decoder.decode(data) + "\\n" + $("log").textContent.split("\\n").slice(0, 19).join("\\n");
  };
  const answer = (fn) => (route, data) => { log(route, data); $("counter").textContent = String(++counter); return fn(data); };
  const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + __MUX_PATH__;
  window.bimux.dialReconnecting(url, {
    handlers: {
      1: answer(() => encoder.encode(document.title)),
      2: answer(() => encoder.encode(String(counter))),
      3: answer((data) => data),
    },
    onStateChange: (state) => { $("status").textContent = state; },
  }).catch((error) => { $("status").textContent = "failed: " + error.message; });
})();
`;

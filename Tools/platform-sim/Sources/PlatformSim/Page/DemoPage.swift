/// The dealer demo page served at `/`: one self-contained HTML file, vanilla JS, no external assets.
///
/// It polls the admin API every second for the chosen bridge's latest `PUT /state`, its recent events and the
/// commands sent with their results, and its buttons issue commands through `POST /admin/bridges/{id}/commands`.
/// Everything from the bridge is put into the page with `textContent`, never as HTML.
enum DemoPage {
    static let html = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>platform-sim · CHeKT bridge demo</title>
        <style>
          :root { --bg:#f4f5f7; --card:#fff; --ink:#1d2330; --mute:#6b7280; --line:#e3e6eb;
                  --ok:#177a3c; --warn:#b45309; --bad:#b91c1c; --acc:#1f5fbf; }
          * { box-sizing: border-box; }
          body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
                 background:var(--bg); color:var(--ink); }
          header { display:flex; gap:16px; align-items:center; flex-wrap:wrap; padding:12px 20px;
                   background:#1d2330; color:#fff; }
          header h1 { font-size:16px; margin:0 12px 0 0; font-weight:600; }
          header select { font:inherit; padding:4px 6px; }
          header .meta { color:#cbd2dc; font-size:12px; }
          main { display:grid; grid-template-columns: repeat(auto-fit, minmax(360px, 1fr)); gap:16px; padding:16px 20px; }
          section { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px 14px; }
          section h2 { font-size:13px; text-transform:uppercase; letter-spacing:.04em; color:var(--mute); margin:0 0 8px; }
          table { width:100%; border-collapse:collapse; }
          td, th { text-align:left; padding:5px 6px; border-top:1px solid var(--line); vertical-align:middle; }
          th { color:var(--mute); font-weight:500; font-size:12px; border-top:none; }
          button { font:inherit; font-size:12px; padding:3px 8px; margin:1px 2px; border:1px solid #c5cbd5;
                   border-radius:5px; background:#fff; cursor:pointer; }
          button:hover { border-color:var(--acc); color:var(--acc); }
          input[type=number] { width:70px; font:inherit; font-size:12px; padding:2px 4px; }
          .badge { display:inline-block; padding:1px 7px; border-radius:10px; font-size:12px; font-weight:600;
                   background:#e5e7eb; }
          .ok { background:#dcfce7; color:var(--ok); } .warn { background:#fef3c7; color:var(--warn); }
          .bad { background:#fee2e2; color:var(--bad); } .acc { background:#dbeafe; color:var(--acc); }
          .mute { color:var(--mute); } .mono { font-family: ui-monospace, Menlo, Consolas, monospace; font-size:12px; }
          .wide { grid-column: 1 / -1; }
          .scroll { max-height:340px; overflow:auto; }
          #error { color:#fecaca; }
        </style>
        </head>
        <body>
        <header>
          <h1>CHeKT bridge · platform-sim</h1>
          <label>Bridge <select id="bridge"></select></label>
          <span class="meta" id="meta">loading…</span>
          <span class="meta" id="error"></span>
        </header>
        <main>
          <section><h2>Partitions</h2>
            <label class="mute"><input type="checkbox" id="force"> force (bypass faulted zones)</label>
            <table id="partitions"></table></section>
          <section><h2>Zones</h2><table id="zones"></table></section>
          <section><h2>Relays</h2>
            <span class="mute">pulse length</span> <input type="number" id="pulse" value="3000" min="1"> ms
            <table id="relays"></table></section>
          <section><h2>Devices &amp; agent</h2><table id="devices"></table><table id="agent"></table>
            <p><button id="sync">Request state (state.sync)</button></p></section>
          <section class="wide"><h2>Commands sent</h2><div class="scroll"><table id="commands"></table></div></section>
          <section class="wide"><h2>Events (newest first)</h2><div class="scroll"><table id="events"></table></div></section>
        </main>
        <script>
        "use strict";
        const $ = (id) => document.getElementById(id);
        let bridge = localStorage.getItem("platform-sim.bridge") || "";

        function el(tag, text, cls) {
          const e = document.createElement(tag);
          if (text !== undefined && text !== null) e.textContent = String(text);
          if (cls) e.className = cls;
          return e;
        }
        function badge(text, cls) { return el("span", text, "badge " + (cls || "")); }
        function row(cells) {
          const tr = el("tr");
          for (const c of cells) {
            const td = el("td");
            if (c instanceof Node) td.appendChild(c); else if (Array.isArray(c)) c.forEach(x => td.appendChild(x));
            else td.textContent = c === undefined || c === null ? "" : String(c);
            tr.appendChild(td);
          }
          return tr;
        }
        function fill(table, head, rows) {
          table.replaceChildren();
          const tr = el("tr");
          head.forEach(h => tr.appendChild(el("th", h)));
          table.appendChild(tr);
          if (rows.length === 0) { table.appendChild(row([el("span", "—", "mute")])); return; }
          rows.forEach(r => table.appendChild(r));
        }
        function button(label, onClick) { const b = el("button", label); b.onclick = onClick; return b; }
        function time(iso) { return iso ? new Date(iso).toLocaleTimeString() : ""; }
        function short(obj) { return obj && Object.keys(obj).length ? JSON.stringify(obj) : ""; }

        async function api(path, options) {
          const r = await fetch(path, options);
          if (!r.ok && r.status !== 201) throw new Error(path + ": HTTP " + r.status);
          return r.status === 204 ? null : r.json();
        }
        async function send(type, params) {
          try {
            await api("/admin/bridges/" + encodeURIComponent(bridge) + "/commands",
                      { method: "POST", headers: { "Content-Type": "application/json" },
                        body: JSON.stringify({ type, params: params || {} }) });
            refresh();
          } catch (e) { $("error").textContent = e.message; }
        }

        function stateClass(s) {
          return { disarmed: "ok", arming: "warn", armed_away: "acc", armed_stay: "acc", alarm: "bad" }[s] || "";
        }
        function render(state, events, commands, faults) {
          const st = state.state || {};
          const partitions = st.partitions || [], zones = st.zones || [], relays = st.relays || [];
          const devices = st.devices || [];
          fill($("partitions"), ["Partition", "State", "Bypassed", ""], partitions.map(p => row([
            p.id, badge(p.state, stateClass(p.state)), (p.bypassed || []).join(", "),
            [button("Arm away", () => send("partition.arm", { partition: p.id, mode: "away", force: $("force").checked })),
             button("Arm stay", () => send("partition.arm", { partition: p.id, mode: "stay", force: $("force").checked })),
             button("Disarm", () => send("partition.disarm", { partition: p.id }))]])));
          fill($("zones"), ["Zone", "Partition", "State", ""], zones.map(z => row([
            z.id, z.partition,
            [badge(z.state, z.state === "normal" ? "ok" : z.state === "faulted" ? "bad" : "warn"),
             ...(z.bypassed ? [document.createTextNode(" "), badge("bypassed", "warn")] : [])],
            z.bypassed ? button("Unbypass", () => send("zone.unbypass", { zone: z.id }))
                       : button("Bypass", () => send("zone.bypass", { zone: z.id }))])));
          fill($("relays"), ["Relay", "Output", ""], relays.map(r => row([
            r.id, [badge(r.on ? "on" : "off", r.on ? "acc" : ""),
                   ...(r.until ? [el("span", " until " + time(r.until), "mute")] : [])],
            [button("Pulse", () => send("relay.activate", { relay: r.id, duration_ms: Number($("pulse").value) || 1000 })),
             button("Activate", () => send("relay.activate", { relay: r.id })),
             button("Deactivate", () => send("relay.deactivate", { relay: r.id }))]])));
          fill($("devices"), ["Device", "Online", "Last seen"], devices.map(d => row([
            d.id, badge(d.online ? "online" : "offline", d.online ? "ok" : "bad"), time(d.last_seen)])));
          const agent = st.agent || {}, outbox = st.outbox || {};
          fill($("agent"), ["Agent", ""], state.state ? [
            row(["version", agent.version + (agent.simulated ? " (simulated board)" : "")]),
            row(["uptime", agent.uptime_s !== undefined ? agent.uptime_s + " s" : ""]),
            row(["clock offset", st.clock_offset_ms !== undefined ? st.clock_offset_ms + " ms" : ""]),
            row(["outbox", "pending " + (outbox.pending ?? "?") + ", dead-lettered " + (outbox.dead_lettered ?? "?")]),
          ] : []);
          fill($("commands"), ["Issued", "Command", "Params", "Delivered", "Result", "Code / message"],
            commands.commands.slice().reverse().slice(0, 50).map(c => {
              const r = c.result;
              const cls = !r ? "" : r.status === "succeeded" ? "ok" : r.status === "failed" ? "bad" : "warn";
              const raw = c.raw !== undefined;
              return row([time(c.issued_at), el("span", raw ? "(raw)" : c.type, "mono"), el("span", raw ? c.raw : short(c.params), "mono"),
                          c.delivered ? "yes" : "waiting",
                          r ? [badge(r.status, cls), ...(r.received_count > 1 ? [el("span", " ×" + r.received_count, "mute")] : [])]
                            : el("span", c.delivered ? "awaiting result" : "", "mute"),
                          r ? [r.code, r.message].filter(Boolean).join(": ") : ""]);
            }));
          fill($("events"), ["Occurred", "Seq", "Type", "Data"],
            events.events.slice().reverse().map(e => row([
              time(e.occurred_at), e.seq, el("span", e.type, "mono"), el("span", short(e.data), "mono")])));
          const last = state.last_at ? "state " + time(state.last_at) + " (" + state.count + " received)" : "no state received yet";
          $("meta").textContent = last + " · " + events.total + " events" +
            (events.order_violations.length ? " · " + events.order_violations.length + " order violations" : "") +
            (faults.faults.length ? " · faults in force: " + faults.faults.map(f => f.kind).join(", ") : "");
        }

        async function loadBridges() {
          const list = (await api("/admin/bridges")).bridges;
          const select = $("bridge");
          const ids = list.map(b => b.id);
          if (select.options.length !== ids.length || ids.some((id, i) => select.options[i].value !== id)) {
            select.replaceChildren(...ids.map(id => { const o = el("option", id); o.value = id; return o; }));
          }
          if (!ids.includes(bridge)) bridge = ids[0] || "";
          select.value = bridge;
        }

        let timer = null;
        async function refresh() {
          clearTimeout(timer);
          try {
            await loadBridges();
            if (bridge) {
              const b = "/admin/bridges/" + encodeURIComponent(bridge);
              const [state, events, commands, faults] = await Promise.all(
                [api(b + "/state"), api(b + "/events?limit=100"), api(b + "/commands"), api("/admin/faults")]);
              render(state, events, commands, faults);
            } else {
              $("meta").textContent = "no bridge registered";
            }
            $("error").textContent = "";
          } catch (e) {
            $("error").textContent = "platform unreachable: " + e.message;
          }
          timer = setTimeout(refresh, 1000);
        }
        $("bridge").onchange = (e) => { bridge = e.target.value; localStorage.setItem("platform-sim.bridge", bridge); refresh(); };
        $("sync").onclick = () => send("state.sync");
        refresh();
        </script>
        </body>
        </html>
        """#
}

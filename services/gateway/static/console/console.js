/* TrustScope console: plain JS, no build step. Talks to the gateway's own API (same origin).
   The API key is kept in sessionStorage (this tab only) and sent as an Authorization header -
   never put in a URL. Every server string is set as text; search highlights are rebuilt from
   the <mark> fragments as text nodes and <mark> elements (no innerHTML anywhere). */
(function () {
  "use strict";
  var KEY = "trustscope.apiKey";
  var $ = function (sel) { return document.querySelector(sel); };
  var state = {platforms: [], cursor: null, filters: null, charts: {}, stream: null};

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") e.textContent = attrs[k];
      else if (k === "cls") e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c != null) e.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return e;
  }
  function key() { return sessionStorage.getItem(KEY) || ""; }
  function headers() { var h = {Accept: "application/json"}; if (key()) h.Authorization = "Bearer " + key(); return h; }
  function api(path, opts) {
    opts = opts || {};
    var h = headers();
    if (opts.body) h["Content-Type"] = "application/json";
    return fetch(path, {method: opts.method || "GET", headers: h, body: opts.body ? JSON.stringify(opts.body) : undefined,
                        credentials: "omit"}).then(function (r) {
      return r.text().then(function (t) {
        var data = null;
        try { data = t ? JSON.parse(t) : null; } catch (e) { data = {message: t}; }
        if (!r.ok) { var err = new Error((data && (data.message || data.error)) || ("HTTP " + r.status)); err.status = r.status; throw err; }
        return data;
      });
    });
  }
  function qs(params) {
    var u = new URLSearchParams();
    Object.keys(params).forEach(function (k) { if (params[k] !== "" && params[k] != null) u.append(k, params[k]); });
    return u.toString();
  }
  function fmt(n, d) { return n == null ? "—" : Number(n).toFixed(d == null ? 2 : d); }

  /* --- highlights: "<mark>" fragments from the server, text HTML-escaped by Elasticsearch --- */
  function decode(s) {
    return s.replace(/&(lt|gt|amp|quot|#x27|#39|#x2F|#47);/g, function (_, n) {
      return {lt: "<", gt: ">", amp: "&", quot: '"', "#x27": "'", "#39": "'", "#x2F": "/", "#47": "/"}[n];
    });
  }
  function highlighted(fragment) {
    var out = document.createDocumentFragment();
    String(fragment).split(/(<mark>|<\/mark>)/).reduce(function (inMark, part) {
      if (part === "<mark>") return true;
      if (part === "</mark>") return false;
      if (part) out.appendChild(inMark ? el("mark", {text: decode(part)}) : document.createTextNode(decode(part)));
      return inMark;
    }, false);
    return out;
  }

  /* --- charts (ECharts, vendored) --- */
  function chart(id) {
    if (!window.echarts) return null;
    var node = document.getElementById(id);
    if (!state.charts[id]) state.charts[id] = window.echarts.init(node);
    return state.charts[id];
  }
  function setChart(id, option) { var c = chart(id); if (c) c.setOption(option, true); }

  /* --- key box --- */
  function showWho() {
    var who = $("#whoami");
    if (!key()) { who.textContent = "no key (public)"; return; }
    api("/v1/keys/me").then(function (me) {
      who.textContent = me.key_id + " · " + me.roles.join("+") + (me.platforms.length ? " · " + me.platforms.join(",") : "");
    }).catch(function (e) { who.textContent = "key rejected: " + e.message; });
  }
  $("#keyform").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var v = $("#keyinput").value.trim();
    if (v) sessionStorage.setItem(KEY, v);
    $("#keyinput").value = "";
    showWho(); route();
  });
  $("#forget").addEventListener("click", function () { sessionStorage.removeItem(KEY); showWho(); route(); });

  /* --- search --- */
  function filtersFromForm() {
    var f = new FormData($("#searchform")), out = {};
    ["q", "platform", "kind", "sentiment", "verdict", "sort"].forEach(function (k) { out[k] = f.get(k) || ""; });
    if (f.get("since")) out.since = f.get("since") + "T00:00:00+08:00";
    if (f.get("until")) out.until = f.get("until") + "T00:00:00+08:00";
    return out;
  }
  function resultItem(d) {
    var hl = d.highlight || {}, frag = (hl.text_simplified || hl.text || hl.title || [])[0];
    var text = el("div", {cls: "text"});
    if (frag) text.appendChild(highlighted(frag)); else text.textContent = d.text || "";
    var meta = [d.created_at ? String(d.created_at).slice(0, 16).replace("T", " ") : "", (d.platforms || []).join(","), d.kind, d.source,
                d.sentiment ? "sentiment " + d.sentiment.label : "", d.integrity ? "verdict " + d.integrity.verdict : "",
                d.rumour ? "rumour " + fmt(d.rumour.score) : "", d.rating ? d.rating + "★" : ""].filter(Boolean).join(" · ");
    return el("li", {"data-id": d.id}, [el("div", {cls: "meta", text: meta}), d.title ? el("b", {text: d.title}) : null, text]);
  }
  function runSearch(more) {
    var f = more ? state.filters : filtersFromForm();
    state.filters = f;
    var params = Object.assign({}, f, {size: 20});
    if (more) params.cursor = state.cursor;
    $("#search-status").textContent = "searching…";
    api("/v1/search?" + qs(params)).then(function (page) {
      if (!more) $("#results").replaceChildren();
      page.documents.forEach(function (d) { $("#results").appendChild(resultItem(d)); });
      state.cursor = page.next_cursor || null;
      $("#more").hidden = !state.cursor;
      $("#search-status").textContent = page.total + " documents";
    }).catch(function (e) { $("#search-status").textContent = "search failed: " + e.message + (e.status === 401 || e.status === 403 ? " (a regulator key is needed)" : ""); });
    if (!more) searchCharts(f);
  }
  function searchCharts(f) {
    var base = Object.assign({}, f); delete base.sort;
    api("/v1/analytics/sentiment?" + qs(Object.assign({}, base, {interval: "day", top: 5}))).then(function (r) {
      var days = {}; r.platforms.forEach(function (p) { p.buckets.forEach(function (b) { days[b.start.slice(0, 10)] = 1; }); });
      var x = Object.keys(days).sort();
      setChart("chart-sentiment", {title: {text: "Negative documents per day 负面", textStyle: {fontSize: 13}}, tooltip: {trigger: "axis"},
        legend: {bottom: 0}, grid: {top: 40, left: 40, right: 16, bottom: 56}, xAxis: {type: "category", data: x}, yAxis: {type: "value"},
        series: r.platforms.map(function (p) {
          var m = {}; p.buckets.forEach(function (b) { m[b.start.slice(0, 10)] = b.negative; });
          return {name: p.platform, type: "line", data: x.map(function (d) { return m[d] || 0; })};
        })});
    }).catch(function () {});
    api("/v1/analytics/negative-share?" + qs(Object.assign({}, base, {min_documents: 1, top: 10}))).then(function (r) {
      setChart("chart-negative", {title: {text: "Negative share by platform 负面占比", textStyle: {fontSize: 13}}, tooltip: {},
        grid: {top: 40, left: 90, right: 16, bottom: 30}, xAxis: {type: "value", max: 1},
        yAxis: {type: "category", data: r.platforms.map(function (p) { return p.platform; }).reverse()},
        series: [{type: "bar", data: r.platforms.map(function (p) { return p.negative_share; }).reverse()}]});
    }).catch(function () {});
  }
  $("#searchform").addEventListener("submit", function (ev) { ev.preventDefault(); runSearch(false); });
  $("#more").addEventListener("click", function () { runSearch(true); });
  function exportAs(format) {
    var f = filtersFromForm(); delete f.sort;
    $("#search-status").textContent = "exporting…";
    fetch("/v1/export?" + qs(Object.assign(f, {format: format})), {headers: headers(), credentials: "omit"}).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.blob();
    }).then(function (blob) {
      var a = el("a", {href: URL.createObjectURL(blob), download: "trustscope-export." + (format === "csv" ? "csv" : "ndjson")});
      document.body.appendChild(a); a.click(); a.remove();
      $("#search-status").textContent = "export downloaded";
    }).catch(function (e) { $("#search-status").textContent = "export failed: " + e.message; });
  }
  $("#export-csv").addEventListener("click", function () { exportAs("csv"); });
  $("#export-ndjson").addEventListener("click", function () { exportAs("ndjson"); });

  /* --- platform page --- */
  function platformPage(id) {
    var sel = $("#platformform select");
    if (!id) id = sel.value || (state.platforms[0] && state.platforms[0].id);
    if (!id) return;
    sel.value = id;
    $("#platform-status").textContent = "loading…";
    api("/v1/platforms/" + encodeURIComponent(id) + "/page?lang=en").then(function (p) {
      $("#platform-status").textContent = p.unavailable.length ? "unavailable now: " + p.unavailable.join(", ") : "";
      var s = p.score, box = $("#platform-score");
      box.replaceChildren(el("h3", {text: p.platform.name_zh + " " + p.platform.name_en}));
      if (s.status === "ok") {
        box.appendChild(el("div", {cls: "big", id: "score-value", text: fmt(s.verified_score, 2)}));
        box.appendChild(el("div", {cls: "muted", text: "verified score · 95% interval " + fmt(s.interval[0]) + "–" + fmt(s.interval[1])}));
      } else {
        box.appendChild(el("div", {cls: "big", id: "score-value", text: "—"}));
        box.appendChild(el("div", {text: s.message + " (" + s.verified + " of " + s.min_verified + " needed)"}));
      }
      box.appendChild(el("div", {cls: "muted", text: s.verified + " verified of " + s.total + " reviews; fake " + s.fake +
        ", suspicious " + s.suspicious + ", unverified " + s.unverified}));
      var t = p.trust_index, tb = $("#platform-trust");
      tb.replaceChildren(el("h3", {text: "Trust index 信任指数"}),
        el("div", {cls: "big", id: "trust-value", text: t.index == null ? "—" : fmt(t.index, 1)}),
        el("div", {cls: "muted", text: t.status === "ok" ? t.formula : "withheld: " + t.reason}));
      var rows = t.components.map(function (c) {
        return el("tr", {}, [el("td", {text: c.name}), el("td", {text: fmt(c.weight)}), el("td", {text: c.value == null ? c.status : fmt(c.value, 3)}),
          el("td", {cls: "muted", text: JSON.stringify(c.basis)})]);
      });
      tb.appendChild(el("table", {id: "trust-components"}, [el("thead", {}, [el("tr", {}, ["component", "weight", "value", "basis"].map(function (h) { return el("th", {text: h}); }))]),
        el("tbody", {}, rows)]));
      setChart("chart-history", {title: {text: "Verified score history 评分历史", textStyle: {fontSize: 13}}, tooltip: {trigger: "axis"},
        grid: {top: 40, left: 40, right: 16, bottom: 30}, xAxis: {type: "category", data: p.score_history.map(function (h) { return h.date; })},
        yAxis: {type: "value", min: 1, max: 5}, series: [{type: "line", connectNulls: false, data: p.score_history.map(function (h) { return h.score; })}]});
      var daily = p.sentiment ? p.sentiment.daily : [];
      setChart("chart-platform-sentiment", {title: {text: "Sentiment per day 情感", textStyle: {fontSize: 13}}, tooltip: {trigger: "axis"}, legend: {top: 22},
        grid: {top: 60, left: 40, right: 16, bottom: 30}, xAxis: {type: "category", data: daily.map(function (d) { return d.date; })}, yAxis: {type: "value"},
        series: ["positive", "neutral", "negative"].map(function (k) { return {name: k, type: "bar", stack: "s", data: daily.map(function (d) { return d[k]; })}; })});
      var al = $("#platform-alerts");
      al.replaceChildren(el("h3", {text: "Open alerts 未关闭预警: " + (p.open_alerts_count == null ? "unavailable" : p.open_alerts_count)}));
      (p.open_alerts || []).forEach(function (a) { al.appendChild(el("div", {cls: "level-" + a.level}, [el("b", {text: a.level + " "}), a.headline || ""])); });
      if (p.open_alerts == null && p.open_alerts_count) al.appendChild(el("p", {cls: "muted", text: "details need a risk-team or regulator key"}));
      var w = $("#platform-widget");
      w.replaceChildren(el("iframe", {src: "/widget/" + encodeURIComponent(id) + "?lang=en", width: "340", height: "520", title: "widget", loading: "lazy"}),
        el("img", {src: "/widget/" + encodeURIComponent(id) + "/badge.svg?lang=en", alt: "badge"}));
    }).catch(function (e) { $("#platform-status").textContent = "failed: " + e.message; });
  }
  $("#platformform").addEventListener("submit", function (ev) { ev.preventDefault(); location.hash = "#/platform/" + $("#platformform select").value; });

  /* --- alerts board with live updates (fetch-based SSE: EventSource cannot send the key header) --- */
  function alertItem(a) {
    return el("li", {cls: "level-" + a.level, "data-alert": a.id}, [
      el("div", {cls: "meta", text: [a.platform, a.level, "severity " + fmt(a.severity, 1), a.status, "volume " + a.volume,
        a.last_seen ? "last " + String(a.last_seen).slice(0, 16).replace("T", " ") : ""].join(" · ")}),
      el("div", {cls: "text", text: a.headline || ""})]);
  }
  function upsertAlert(a) {
    var list = $("#alertlist"), old = list.querySelector('[data-alert="' + CSS.escape(a.id) + '"]'), item = alertItem(a);
    item.classList.add("flash");
    if (a.status === "resolved") { if (old) old.remove(); return; }
    if (old) old.replaceWith(item); else list.insertBefore(item, list.firstChild);
  }
  function live(text, cls) { var l = $("#live"); l.textContent = text; l.className = "pill " + (cls || ""); }
  function alertsBoard() {
    api("/v1/alerts?" + qs({status: "open", size: 50})).then(function (r) {
      $("#alertlist").replaceChildren();
      r.alerts.forEach(function (a) { $("#alertlist").appendChild(alertItem(a)); });
      $("#alerts-status").textContent = "";
    }).catch(function (e) { $("#alerts-status").textContent = "alerts unavailable: " + e.message; });
    openStream();
  }
  function openStream(lastId) {
    if (state.stream) state.stream.abort();
    var ctrl = new AbortController(); state.stream = ctrl;
    var h = headers(); h.Accept = "text/event-stream"; if (lastId) h["Last-Event-ID"] = lastId;
    fetch("/v1/alerts/stream", {headers: h, signal: ctrl.signal, credentials: "omit"}).then(function (r) {
      if (!r.ok) { live("live updates unavailable (HTTP " + r.status + ")", "down"); return; }
      live("live", "live");
      var reader = r.body.getReader(), dec = new TextDecoder(), buf = "", last = lastId;
      function pump() {
        return reader.read().then(function (chunk) {
          if (chunk.done) throw new Error("closed");
          buf += dec.decode(chunk.value, {stream: true});
          var parts = buf.split("\n\n"); buf = parts.pop();
          parts.forEach(function (block) {
            var ev = {data: ""};
            block.split("\n").forEach(function (line) {
              var i = line.indexOf(":"); if (i <= 0) return;
              var k = line.slice(0, i), v = line.slice(i + 1).replace(/^ /, "");
              if (k === "data") ev.data += v; else ev[k] = v;
            });
            if (ev.id) last = ev.id;
            if (ev.data && ev.event && ev.event.indexOf("alert.") === 0) {
              try { var d = JSON.parse(ev.data); upsertAlert(d.alert || d); } catch (e) { /* malformed event: skip */ }
            }
          });
          return pump();
        });
      }
      return pump().catch(function () {
        if (ctrl.signal.aborted) return;
        live("reconnecting…", "down");
        setTimeout(function () { if (state.stream === ctrl) openStream(last); }, 3000);
      });
    }).catch(function (e) { if (!ctrl.signal.aborted) live("live updates unavailable: " + e.message, "down"); });
  }

  /* --- key management (admins) --- */
  function keysView() {
    $("#keys-status").textContent = "";
    api("/v1/admin/keys").then(function (r) {
      var body = $("#keytable tbody"); body.replaceChildren();
      (r.keys || []).forEach(function (k) {
        var rot = el("button", {type: "button", text: "rotate"}), rev = el("button", {type: "button", text: "revoke"});
        rot.addEventListener("click", function () { api("/v1/admin/keys/" + encodeURIComponent(k.id) + "/rotate", {method: "POST", body: {}}).then(issued).then(keysView).catch(fail); });
        rev.addEventListener("click", function () { api("/v1/admin/keys/" + encodeURIComponent(k.id), {method: "DELETE"}).then(keysView).catch(fail); });
        body.appendChild(el("tr", {}, [el("td", {text: k.id}), el("td", {text: k.label || ""}), el("td", {text: (k.roles || []).join("+")}),
          el("td", {text: (k.platforms || []).join(",")}), el("td", {text: k.expires_at || "never"}), el("td", {text: k.revoked_at ? "revoked" : "active"}),
          el("td", {}, [rot, rev])]));
      });
    }).catch(fail);
  }
  function fail(e) { $("#keys-status").textContent = e.message + (e.status === 401 || e.status === 403 ? " (an admin key is needed)" : ""); }
  function issued(r) {
    var p = $("#issued"); p.hidden = false;
    p.replaceChildren(document.createTextNode("New key for " + r.record.id + " (shown once, copy it now): "), el("code", {text: r.key}));
  }
  $("#keycreate").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var f = ev.target, roles = Array.prototype.filter.call(f.roles.options, function (o) { return o.selected; }).map(function (o) { return o.value; });
    var platforms = f.platforms.value.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
    api("/v1/admin/keys", {method: "POST", body: {label: f.label.value, roles: roles, platforms: platforms,
      expires_in_days: f.expires_in_days.value ? Number(f.expires_in_days.value) : null}}).then(issued).then(keysView).catch(fail);
  });

  /* --- routing --- */
  function route() {
    var parts = (location.hash || "#/search").slice(2).split("/"), view = parts[0] || "search";
    if (["search", "platform", "alerts", "keys"].indexOf(view) < 0) view = "search";
    ["search", "platform", "alerts", "keys"].forEach(function (v) { $("#view-" + v).hidden = v !== view; });
    document.querySelectorAll("nav a").forEach(function (a) { a.classList.toggle("active", a.getAttribute("data-view") === view); });
    if (view !== "alerts" && state.stream) { state.stream.abort(); state.stream = null; }
    if (view === "platform") platformPage(parts[1] ? decodeURIComponent(parts[1]) : null);
    if (view === "alerts") alertsBoard();
    if (view === "keys") keysView();
    Object.keys(state.charts).forEach(function (id) { state.charts[id].resize(); });
  }
  window.addEventListener("hashchange", route);
  api("/v1/platforms").then(function (r) {
    state.platforms = r.platforms;
    ["#searchform select[name=platform]", "#platformform select"].forEach(function (sel) {
      r.platforms.forEach(function (p) { $(sel).appendChild(el("option", {value: p.id, text: p.id + " · " + p.name_zh})); });
    });
  }).catch(function () {}).then(function () { showWho(); route(); });
})();

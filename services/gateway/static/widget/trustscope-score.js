/* <trustscope-score platform="ppdai" lang="zh|en"> - TrustScope verified-score web component.
   No framework, shadow DOM, every string from the server set as text (never as HTML).
   BASE is filled in by the gateway from its public_base_url setting. */
(function () {
  "use strict";
  var BASE = "__TS_BASE_URL__";
  if (!window.customElements || customElements.get("trustscope-score")) return;
  var SVGNS = "http://www.w3.org/2000/svg";
  var STAR = "M12 2l3.09 6.26L22 9.27l-5 4.87 1.18 6.88L12 17.77l-6.18 3.25L7 14.14 2 9.27l6.91-1.01z";
  var CSS = ":host{display:block;font:14px/1.45 system-ui,'Noto Sans CJK SC',sans-serif;color:#1a1a1a;max-width:360px}" +
    ".card{border:1px solid #e3e3e3;border-radius:8px;padding:12px;background:#fff}h2{font-size:15px;margin:0 0 6px}" +
    ".row{display:flex;align-items:center;gap:6px}.score{font-size:30px;font-weight:650}.m{color:#555;font-size:12px}" +
    ".none{font-size:16px;font-weight:600}.bar{display:inline-block;width:100px;height:8px;background:#eee;vertical-align:middle}" +
    ".bar i{display:block;height:8px;background:#e8a400}.rv{border-top:1px solid #eee;padding:6px 0}" +
    ".rv p{margin:2px 0;white-space:pre-wrap;word-break:break-word}.reply{margin:4px 0 0 12px;padding-left:8px;border-left:3px solid #cfe0ff}" +
    "summary{cursor:pointer;color:#0b57d0;font-size:12px}code{font-size:11px;white-space:pre-wrap;word-break:break-word}a{color:#0b57d0}";
  var uid = 0;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = String(text);
    return e;
  }
  function fmt(t, v) { return String(t).replace(/\{(\w+)\}/g, function (_, k) { return v[k] != null ? v[k] : ""; }); }
  function stars(value, size) {
    var id = "tsc" + (++uid), svg = document.createElementNS(SVGNS, "svg");
    svg.setAttribute("width", size * 5); svg.setAttribute("height", size); svg.setAttribute("viewBox", "0 0 120 24");
    svg.setAttribute("class", "stars"); svg.setAttribute("data-stars", value == null ? 0 : value);
    var defs = document.createElementNS(SVGNS, "defs"), clip = document.createElementNS(SVGNS, "clipPath");
    var rect = document.createElementNS(SVGNS, "rect");
    clip.setAttribute("id", id); rect.setAttribute("width", Math.max(0, Math.min(5, value || 0)) * 24); rect.setAttribute("height", 24);
    clip.appendChild(rect); defs.appendChild(clip); svg.appendChild(defs);
    ["#d9d9d9", "#e8a400"].forEach(function (fill, i) {
      var g = document.createElementNS(SVGNS, "g");
      g.setAttribute("fill", fill);
      if (i) g.setAttribute("clip-path", "url(#" + id + ")");
      for (var k = 0; k < 5; k++) {
        var p = document.createElementNS(SVGNS, "path");
        p.setAttribute("d", STAR); p.setAttribute("transform", "translate(" + 24 * k + " 0)"); g.appendChild(p);
      }
      svg.appendChild(g);
    });
    return svg;
  }

  function render(root, d) {
    var t = d.labels, s = d.score, p = d.platform, card = el("div", "card");
    card.appendChild(el("h2", "", d.lang === "zh" ? p.name_zh : p.name_en));
    var excluded = 0;
    Object.keys(s.excluded || {}).forEach(function (k) { excluded += s.excluded[k]; });
    if (s.status === "ok") {
      var row = el("div", "row");
      row.appendChild(el("span", "score", s.verified_score.toFixed(1)));
      row.appendChild(stars(s.stars, 20));
      row.appendChild(el("span", "m", fmt(t.stars, {value: s.stars})));
      card.appendChild(row);
      card.appendChild(el("div", "m", t.verified_score + " · " + t.interval + " " + s.interval[0].toFixed(1) + "–" + s.interval[1].toFixed(1)));
      card.appendChild(el("div", "m", fmt(t.based_on, {verified: s.verified, total: s.total, excluded: excluded})));
    } else {
      var none = el("div", "none", t.insufficient);
      none.setAttribute("data-status", "insufficient");
      card.appendChild(none);
      card.appendChild(el("div", "m", fmt(t.insufficient_counts, {verified: s.verified, min: s.min_verified, total: s.total})));
    }
    var dist = el("div", "dist"), n = 0;
    dist.setAttribute("aria-label", t.distribution);
    ["1", "2", "3", "4", "5"].forEach(function (k) { n += (s.distribution || {})[k] || 0; });
    ["5", "4", "3", "2", "1"].forEach(function (k) {
      var c = (s.distribution || {})[k] || 0, line = el("div", "m"), bar = el("span", "bar"), fill = el("i");
      fill.style.width = (n ? 100 * c / n : 0) + "%";
      bar.appendChild(fill); line.appendChild(el("span", "", k + "★ ")); line.appendChild(bar); line.appendChild(el("span", "", " " + c));
      dist.appendChild(line);
    });
    card.appendChild(el("div", "m", t.distribution));
    card.appendChild(dist);
    card.appendChild(el("div", "m", t.recent));
    (d.reviews || []).forEach(function (r) {
      var rv = el("div", "rv");
      rv.appendChild(stars(r.rating, 13));
      rv.appendChild(el("span", "m", " " + String(r.created_at || "").slice(0, 10)));
      if (r.title) rv.appendChild(el("b", "", r.title));
      rv.appendChild(el("p", "", r.text));
      (r.replies || []).forEach(function (x) {
        var rep = el("div", "reply");
        rep.appendChild(el("b", "", t.reply)); rep.appendChild(el("p", "", x.text)); rv.appendChild(rep);
      });
      card.appendChild(rv);
    });
    if (!(d.reviews || []).length) card.appendChild(el("p", "m", t.no_reviews));
    var how = el("details"), body = el("div", "m"), ul = el("ul");
    how.appendChild(el("summary", "", t.how));
    var f = el("p", "", t.formula + ": "); f.appendChild(el("code", "", s.formula)); body.appendChild(f);
    body.appendChild(el("p", "", t.interval + ": " + (s.interval ? s.interval[0].toFixed(2) + "–" + s.interval[1].toFixed(2) : "—") +
      " · " + t.half_life + ": " + s.half_life_days + " · " + t.prior + ": " + s.prior_weight));
    body.appendChild(el("p", "", t.excluded + ":"));
    var keys = Object.keys(s.excluded || {});
    keys.forEach(function (k) { ul.appendChild(el("li", "", (d.reason_labels[k] || k) + " (" + k + "): " + s.excluded[k])); });
    if (!keys.length) ul.appendChild(el("li", "", t.none));
    body.appendChild(ul);
    body.appendChild(el("p", "", t.raw_average + ": " + (s.raw_average == null ? "—" : s.raw_average.toFixed(2))));
    how.appendChild(body); card.appendChild(how);
    if (d.stale) card.appendChild(el("div", "m", t.stale));
    var foot = el("p", "m"), a = el("a", "", t.details);
    if (String(d.links.page).indexOf(BASE + "/") === 0) { a.href = d.links.page; a.target = "_blank"; a.rel = "noopener"; }
    foot.appendChild(a); foot.appendChild(document.createTextNode(" · " + t.powered));
    card.appendChild(foot);
    root.replaceChildren(card);
  }

  function sheet(root) {
    try {
      var cs = new CSSStyleSheet(); cs.replaceSync(CSS); root.adoptedStyleSheets = [cs]; return;
    } catch (e) { /* older browsers */ }
    root.appendChild(el("style", "", CSS));
  }

  class TrustScopeScore extends HTMLElement {
    static get observedAttributes() { return ["platform", "lang"]; }
    constructor() { super(); this._root = this.attachShadow({mode: "open"}); sheet(this._root); }
    connectedCallback() { this._load(); }
    attributeChangedCallback() { if (this.isConnected) this._load(); }
    _load() {
      var self = this, id = this.getAttribute("platform") || "";
      var lang = this.getAttribute("lang") || (navigator.language || "zh");
      if (!/^[a-z0-9][a-z0-9-]{1,62}$/.test(id)) { this._root.replaceChildren(el("span", "m", "trustscope-score: bad platform")); return; }
      fetch(BASE + "/v1/widgets/" + encodeURIComponent(id) + "?lang=" + encodeURIComponent(lang.slice(0, 5)), {credentials: "omit"})
        .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
        .then(function (d) { render(self._root, d); self.setAttribute("data-ready", ""); })
        .catch(function (e) { self._root.replaceChildren(el("span", "m", "TrustScope: " + e.message)); });
    }
  }
  customElements.define("trustscope-score", TrustScopeScore);
})();

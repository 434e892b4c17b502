// The script of the page at / (ui-page.ts): plain ES2017, no libraries. The URL holds the whole state (type,
// by, range, base range, filters, focus, search): every change rewrites it (replaceState) and redraws from it,
// so a pasted URL shows the same view. Data: /api/timeline, /api/top, /api/heatmap, /flamegraph (iframes).
export const UI_CLIENT_SCRIPT = String.raw`(function () {
  'use strict';
  var cfg = JSON.parse(document.getElementById('config').textContent);
  var $ = function (id) { return document.getElementById(id); };
  var SVGNS = 'http://www.w3.org/2000/svg';
  var FILTERS = ['comm', 'pid', 'tid', 'container', 'pod'];
  var PALETTE = ['#e0803a', '#3a86c8', '#5aa55a', '#c8506e', '#8e6cc4', '#c9a227', '#3fb0a8', '#b06a3a', '#6d8fb8', '#a0a040', '#d06ac0', '#7a7a7a'];
  var state = readState();
  var timeline = null, topData = null, lastSorted = null, sortKey = 'total', sortDir = -1, lastFrameKey = '', lastTopKey = '';

  function readState() {
    var p = new URLSearchParams(location.search);
    var s = { type: p.get('type') || cfg.profiles[0] || 'cpu', by: p.get('by') || 'comm', from: num(p.get('from')), to: num(p.get('to')),
      bfrom: num(p.get('base_from')), bto: num(p.get('base_to')), focus: p.get('focus') || '', q: p.get('q') || '', f: {} };
    FILTERS.forEach(function (k) { s.f[k] = p.get(k) || ''; });
    return s;
  }
  function num(v) { return v === null || v === '' || isNaN(Number(v)) ? null : Number(v); }
  function writeState() {
    var p = new URLSearchParams();
    p.set('type', state.type);
    if (state.by !== 'comm') p.set('by', state.by);
    if (state.from !== null) { p.set('from', fmt(state.from)); p.set('to', fmt(state.to)); }
    if (state.bfrom !== null) { p.set('base_from', fmt(state.bfrom)); p.set('base_to', fmt(state.bto)); }
    FILTERS.forEach(function (k) { if (state.f[k]) p.set(k, state.f[k]); });
    if (state.focus) p.set('focus', state.focus);
    if (state.q) p.set('q', state.q);
    history.replaceState(null, '', '?' + p.toString());
  }
  function fmt(t) { return String(Math.round(t * 1000) / 1000); }
  function filterQuery() {
    var p = new URLSearchParams();
    FILTERS.forEach(function (k) { if (state.f[k]) p.set(k, state.f[k]); });
    return p;
  }
  /** The selected range, or the whole retained history when none is. */
  function range() {
    if (state.from !== null) return [state.from, state.to];
    var w = timeline && timeline.windows;
    if (!w || w.length === 0) return null;
    return [w[0][0], w[w.length - 1][1]];
  }
  function status(s) { $('status').textContent = s; }
  // One formatter for every label and tooltip: toLocaleTimeString makes one per call (4,500 timeline tooltips of
  // a busy hour took 0.4 s that way), and these options are what it uses.
  var TIME_FORMAT = new Intl.DateTimeFormat([], { hour: 'numeric', minute: 'numeric', second: 'numeric', hour12: false });
  function timeText(t) { return TIME_FORMAT.format(new Date(t * 1000)); }

  // --- tabs, filters, buttons ---
  var tabs = $('tabs');
  cfg.profiles.forEach(function (k) {
    var b = document.createElement('button');
    b.type = 'button'; b.setAttribute('role', 'tab'); b.id = 'tab-' + k; b.textContent = k === 'cpu' ? 'CPU' : 'Off-CPU';
    b.addEventListener('click', function () { state.type = k; state.focus = ''; update(true); });
    tabs.appendChild(b);
  });
  $('by').value = state.by;
  $('by').addEventListener('change', function () { state.by = $('by').value; update(true); });
  FILTERS.forEach(function (k) {
    var el = $('f-' + k);
    el.value = state.f[k];
    el.addEventListener('change', function () { state.f[k] = el.value.trim(); update(true); });
  });
  $('clear-filters').addEventListener('click', function () { FILTERS.forEach(function (k) { state.f[k] = ''; $('f-' + k).value = ''; }); update(true); });
  $('all').addEventListener('click', function () { state.from = state.to = null; update(false); });
  $('last5').addEventListener('click', function () {
    var r = range(); if (!r) return;
    state.to = r[1]; state.from = Math.max(timeline.windows[0][0], r[1] - 300); update(false);
  });
  $('cmp-prev').addEventListener('click', function () {
    var r = range(); if (!r) return;
    var len = r[1] - r[0];
    if (state.from === null) { // compare the later half of everything with the earlier half
      len = len / 2; state.from = r[0] + len; state.to = r[1]; r = [state.from, state.to];
    }
    state.bfrom = r[0] - len; state.bto = r[0]; update(false);
  });
  $('cmp-pin').addEventListener('click', function () {
    var r = range(); if (!r) return;
    state.bfrom = r[0]; state.bto = r[1]; update(false); status('Base pinned: now select the range to compare with it.');
  });
  $('cmp-off').addEventListener('click', function () { state.bfrom = state.bto = null; update(false); });
  var search = $('search');
  search.value = state.q;
  search.addEventListener('input', function () { state.q = search.value; writeState(); renderTop(); applySearch(); });

  // --- timeline ---
  var tl = $('timeline');
  var drag = null;
  function tlGeom() {
    var w = timeline.windows, box = tl.getBoundingClientRect();
    return { t0: w.length ? w[0][0] : 0, t1: w.length ? w[w.length - 1][1] : 1, width: box.width, height: box.height, left: box.left };
  }
  function xOf(t, g) { return 40 + (t - g.t0) / Math.max(1e-9, g.t1 - g.t0) * (g.width - 48); }
  function tOf(x, g) { return g.t0 + (x - 40) / Math.max(1, g.width - 48) * (g.t1 - g.t0); }
  /** A time snapped to the nearest window boundary (windows are the unit of selection). */
  function snap(t) {
    var best = t, d = Infinity;
    timeline.windows.forEach(function (w) {
      for (var i = 0; i < 2; i++) { var e = Math.abs(w[i] - t); if (e < d) { d = e; best = w[i]; } }
    });
    return best;
  }
  function drawTimeline() {
    while (tl.firstChild) tl.removeChild(tl.firstChild);
    if (!timeline) return;
    var g = tlGeom(), w = timeline.windows, series = timeline.series;
    tl.setAttribute('viewBox', '0 0 ' + g.width + ' ' + g.height);
    var max = 0;
    for (var i = 0; i < w.length; i++) {
      var sum = 0; series.forEach(function (s) { sum += s.values[i]; }); max = Math.max(max, sum);
    }
    var H = g.height - 22;
    var el = function (name, attrs, parent) {
      var e = document.createElementNS(SVGNS, name);
      for (var k in attrs) e.setAttribute(k, attrs[k]);
      (parent || tl).appendChild(e);
      return e;
    };
    el('text', { x: 4, y: 12, 'font-size': 10, fill: 'currentColor' }).textContent = max > 0 ? short(max) : '0';
    el('text', { x: 4, y: H + 4, 'font-size': 10, fill: 'currentColor' }).textContent = timeline.unit;
    var bars = el('g', { id: 'bars' });
    for (var j = 0; j < w.length; j++) {
      var x0 = xOf(w[j][0], g), x1 = xOf(w[j][1], g), y = H;
      var col = el('g', { 'class': 'win', 'data-start': w[j][0], 'data-end': w[j][1] }, bars);
      series.forEach(function (s, k) {
        var v = s.values[j]; if (!(v > 0) || max <= 0) return;
        var h = v / max * (H - 14);
        y -= h;
        el('rect', { x: x0.toFixed(1), y: y.toFixed(1), width: Math.max(0.5, x1 - x0 - 0.5).toFixed(1), height: h.toFixed(1), fill: colour(k, s.key), 'data-i': j, 'data-k': k }, col);
      });
    }
    // time axis: about one label per 120 px
    var ticks = Math.max(2, Math.floor(g.width / 120));
    for (var n = 0; n <= ticks; n++) {
      var t = g.t0 + (g.t1 - g.t0) * n / ticks;
      el('text', { x: xOf(t, g), y: g.height - 6, 'font-size': 10, fill: 'currentColor', 'text-anchor': n === 0 ? 'start' : n === ticks ? 'end' : 'middle' }).textContent = timeText(t);
    }
    if (state.bfrom !== null) el('rect', { id: 'base-range', x: xOf(state.bfrom, g), y: 0, width: Math.max(1, xOf(state.bto, g) - xOf(state.bfrom, g)), height: H, fill: 'var(--base)', 'pointer-events': 'none' });
    if (state.from !== null) el('rect', { id: 'selection', x: xOf(state.from, g), y: 0, width: Math.max(1, xOf(state.to, g) - xOf(state.from, g)), height: H, fill: 'var(--sel)', stroke: 'var(--accent)', 'pointer-events': 'none' });
    drag && drawDrag();
  }
  // One tooltip for the timeline's bars, written on hover: a title element per bar was 4,500 more nodes to make
  // for a busy hour of 1 s windows.
  tl.addEventListener('mousemove', function (e) {
    var tip = $('tip'), r = e.target;
    if (!timeline || drag || !r || r.tagName !== 'rect' || !r.hasAttribute('data-k')) { tip.style.display = 'none'; return; }
    var j = Number(r.getAttribute('data-i')), s = timeline.series[Number(r.getAttribute('data-k'))], w = timeline.windows[j];
    tip.textContent = s.key + ': ' + short(s.values[j]) + ' ' + timeline.unit + ' (' + timeText(w[0]) + '–' + timeText(w[1]) + ')';
    tip.style.display = 'block'; tip.style.left = (e.clientX + 12) + 'px'; tip.style.top = (e.clientY + 12) + 'px';
  });
  tl.addEventListener('mouseleave', function () { $('tip').style.display = 'none'; });
  function drawDrag() {
    var g = tlGeom(), r = $('drag') || (function () { var e = document.createElementNS(SVGNS, 'rect'); e.id = 'drag'; e.setAttribute('fill', 'var(--sel)'); tl.appendChild(e); return e; })();
    r.setAttribute('x', Math.min(drag.x0, drag.x1)); r.setAttribute('width', Math.abs(drag.x1 - drag.x0)); r.setAttribute('y', 0); r.setAttribute('height', g.height - 22);
  }
  tl.addEventListener('mousedown', function (e) {
    if (!timeline || !timeline.windows.length) return;
    var x = e.clientX - tl.getBoundingClientRect().left;
    drag = { x0: x, x1: x }; drawDrag(); e.preventDefault();
  });
  window.addEventListener('mousemove', function (e) {
    if (!drag) return;
    drag.x1 = e.clientX - tl.getBoundingClientRect().left; drawDrag();
  });
  window.addEventListener('mouseup', function () {
    if (!drag) return;
    var g = tlGeom(), a = tOf(Math.min(drag.x0, drag.x1), g), b = tOf(Math.max(drag.x0, drag.x1), g);
    drag = null;
    var d = $('drag'); if (d) d.remove();
    a = snap(Math.max(g.t0, a)); b = snap(Math.min(g.t1, b));
    if (b <= a) { // a click: the window under it
      var hit = timeline.windows.filter(function (w) { return w[0] <= (a + b) / 2 && (a + b) / 2 <= w[1]; })[0];
      if (!hit) return;
      a = hit[0]; b = hit[1];
    }
    state.from = a; state.to = b; update(false);
  });
  tl.addEventListener('keydown', function (e) {
    if (!timeline || !timeline.windows.length) return;
    var w = timeline.windows, r = range(), step = cfg.windowSeconds;
    if (e.key === 'Escape') { state.from = state.to = null; update(false); e.preventDefault(); return; }
    if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
    var d = e.key === 'ArrowLeft' ? -step : step;
    var a = r[0], b = r[1];
    if (state.from === null) { a = w[w.length - 1][0]; b = w[w.length - 1][1]; }
    else if (e.shiftKey) b = Math.max(a + step, b + d);
    else { a += d; b += d; }
    a = Math.max(w[0][0], a); b = Math.min(w[w.length - 1][1], b);
    if (b > a) { state.from = snap(a); state.to = snap(b); update(false); }
    e.preventDefault();
  });
  function colour(k, key) { return key === '(other)' ? '#9a9a9a' : PALETTE[k % PALETTE.length]; }
  function short(v) {
    if (v >= 1e6) return (v / 1e6).toFixed(1) + 'M';
    if (v >= 1e3) return (v / 1e3).toFixed(1) + 'k';
    return v >= 10 ? String(Math.round(v)) : String(Math.round(v * 100) / 100);
  }
  function drawLegend() {
    var lg = $('legend'); lg.textContent = '';
    if (!timeline) return;
    timeline.series.forEach(function (s, k) {
      var b = document.createElement('button');
      b.type = 'button';
      b.title = s.key === '(other)' ? 'everything else' : 'filter on ' + state.by + ' = ' + s.key;
      var i = document.createElement('i'); i.style.background = colour(k, s.key);
      b.appendChild(i); b.appendChild(document.createTextNode(s.key + ' (' + short(s.total) + ')'));
      if (s.key !== '(other)' && state.f[state.by] !== undefined) b.addEventListener('click', function () { state.f[state.by] = s.key; $('f-' + state.by).value = s.key; update(true); });
      lg.appendChild(b);
    });
  }

  // --- flamegraph, top table ---
  function graphQuery(extra) {
    var r = range(), p = filterQuery();
    p.set('type', state.type);
    if (r) { p.set('from', fmt(r[0])); p.set('to', fmt(r[1])); }
    for (var k in extra) p.set(k, extra[k]);
    return p;
  }
  function comparing() { return state.bfrom !== null; }
  function drawGraphs() {
    var r = range();
    if (!r) { status('No retained window yet: the first arrives after one window (' + cfg.windowSeconds + ' s).'); return; }
    var width = Math.max(300, Math.min(4000, Math.round($('graphs').getBoundingClientRect().width - 20)));
    var extra = { width: width };
    if (comparing()) { extra.base_from = fmt(state.bfrom); extra.base_to = fmt(state.bto); }
    var key = graphQuery(extra).toString() + '|' + state.focus;
    if (key === lastFrameKey) return;
    lastFrameKey = key;
    var fg = $('fg'), fg2 = $('fg2');
    if (state.focus) {
      var a = Object.assign({}, extra, { focus: state.focus, view: 'callers' });
      var b = Object.assign({}, extra, { focus: state.focus, view: 'callees' });
      fg.src = '/flamegraph?' + graphQuery(a).toString();
      fg2.src = '/flamegraph?' + graphQuery(b).toString();
      fg2.classList.remove('hidden');
    } else {
      // An icicle (root and toolbar at the top), laid out so by the agent rather than inverted here.
      fg.src = '/flamegraph?' + graphQuery(Object.assign({}, extra, { inverted: 1 })).toString();
      fg2.classList.add('hidden'); fg2.removeAttribute('src');
    }
    var fb = $('focus-bar'); fb.textContent = '';
    if (state.focus) {
      var s = document.createElement('span'); s.textContent = 'Focused on ' + state.focus + ': callers above, callees below. ';
      var c = document.createElement('button'); c.type = 'button'; c.id = 'unfocus'; c.textContent = 'Clear focus';
      c.addEventListener('click', function () { state.focus = ''; update(false); });
      fb.appendChild(s); fb.appendChild(c);
    }
  }
  function fitFrame(f) {
    try {
      var d = f.contentDocument; if (!d || !d.body) return;
      if (matchMedia('(prefers-color-scheme: dark)').matches && !d.getElementById('hp-dark')) {
        var st = d.createElement('style'); st.id = 'hp-dark';
        st.textContent = 'body{background:#17181a;color:#e4e4e4}#flamegraph>rect:first-of-type{fill:#17181a}.title,.subtitle,#details{fill:#e4e4e4;color:#e4e4e4}button,input{background:#17181a;color:#e4e4e4;border:1px solid #3a3b3e}';
        d.head.appendChild(st);
      }
      // Deep stacks (runtimes, browsers) make graphs thousands of pixels tall: the main graph comes as an icicle
      // (root and toolbar at the top, see drawGraphs) and a caller graph is scrolled to its root at the bottom.
      f.style.height = Math.min(Math.round(innerHeight * 0.75), d.documentElement.scrollHeight + 4) + 'px';
      if (f.id === 'fg' && state.focus && f.contentWindow) f.contentWindow.scrollTo(0, d.documentElement.scrollHeight);
      applySearchIn(d);
    } catch (e) { /* another origin: nothing to fit */ }
  }
  $('fg').addEventListener('load', function () {
    fitFrame($('fg'));
    // When the first graph is in: the page's load time (the browser test reads it).
    if (!document.body.hasAttribute('data-ready-ms')) document.body.setAttribute('data-ready-ms', String(Math.round(performance.now())));
  });
  $('fg2').addEventListener('load', function () { fitFrame($('fg2')); });
  function escapeRe(s) { return s.replace(/[.*+?^${'$'}{}()|[\]\\]/g, '\\$&'); }
  function applySearchIn(d) {
    var el = d.getElementById('search');
    if (!el || el.tagName.toLowerCase() !== 'input') return;
    el.value = state.q ? escapeRe(state.q) : '';
    el.dispatchEvent(new Event('input'));
  }
  function applySearch() { ['fg', 'fg2'].forEach(function (id) { try { var d = $(id).contentDocument; if (d) applySearchIn(d); } catch (e) { } }); }

  function loadTop() {
    var r = range(); if (!r) return;
    var extra = {};
    if (comparing()) { extra.base_from = fmt(state.bfrom); extra.base_to = fmt(state.bto); }
    var q = graphQuery(extra).toString();
    if (q === lastTopKey) return;
    lastTopKey = q;
    $('top-note').textContent = 'loading…';
    fetch('/api/top?' + q).then(function (res) {
      if (!res.ok) return res.text().then(function (t) { throw new Error(t); });
      return res.json();
    }).then(function (data) {
      if (q !== lastTopKey) return;
      topData = data; renderTop();
    }).catch(function (err) { $('top-note').textContent = String(err.message || err).trim(); topData = null; renderTop(); });
  }
  function fmtValue(v, unit) {
    if (unit === 'nanoseconds') { if (v >= 1e9) return (v / 1e9).toFixed(2) + ' s'; if (v >= 1e6) return (v / 1e6).toFixed(1) + ' ms'; return (v / 1e3).toFixed(0) + ' µs'; }
    return short(v);
  }
  function pct(v, t) { return t > 0 ? (100 * v / t).toFixed(1) + '%' : '–'; }
  function renderTop() {
    var box = $('top'); box.textContent = '';
    if (!topData) return;
    var diff = !!topData.diff, q = state.q.toLowerCase();
    var rows = topData.rows.filter(function (r) { return !q || r.name.toLowerCase().indexOf(q) >= 0; });
    var cols = diff
      ? [['name', 'Function'], ['baseTotal', 'Base'], ['total', 'Current'], ['delta', 'Δ pts']]
      : [['name', 'Function'], ['self', 'Self'], ['total', 'Total']];
    var val = function (r, k) { return k === 'delta' ? r.total - r.baseTotal : r[k]; };
    if (diff && topData !== lastSorted) { sortKey = 'delta'; sortDir = -1; }
    lastSorted = topData;
    if (!diff && (sortKey === 'delta' || sortKey === 'baseTotal')) sortKey = 'total';
    rows.sort(function (a, b) {
      if (sortKey === 'name') return sortDir * (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
      var x = val(a, sortKey), y = val(b, sortKey);
      if (sortKey === 'delta') { x = Math.abs(x); y = Math.abs(y); }
      return sortDir * (x - y);
    });
    $('top-note').textContent = diff
      ? rows.length + ' functions · red grew, blue shrank (share of all samples)'
      : rows.length + ' functions · total ' + fmtValue(topData.total, topData.unit);
    var t = document.createElement('table'), thead = t.createTHead(), hr = thead.insertRow();
    cols.forEach(function (c) {
      var th = document.createElement('th'); var b = document.createElement('button'); b.type = 'button';
      b.textContent = c[1] + (sortKey === c[0] ? (sortDir < 0 ? ' ▾' : ' ▴') : '');
      th.setAttribute('aria-sort', sortKey === c[0] ? (sortDir < 0 ? 'descending' : 'ascending') : 'none');
      b.addEventListener('click', function () { if (sortKey === c[0]) sortDir = -sortDir; else { sortKey = c[0]; sortDir = c[0] === 'name' ? 1 : -1; } renderTop(); });
      th.appendChild(b); hr.appendChild(th);
    });
    var tb = t.createTBody();
    rows.slice(0, 300).forEach(function (r) {
      var tr = tb.insertRow(); tr.tabIndex = 0; tr.setAttribute('data-name', r.name);
      var cell = function (text, cls) { var td = tr.insertCell(); td.textContent = text; if (cls) td.className = cls; return td; };
      cell(r.name).title = r.name;
      if (diff) {
        var d = r.total - r.baseTotal;
        cell((100 * r.baseTotal).toFixed(1) + '%'); cell((100 * r.total).toFixed(1) + '%');
        cell((d >= 0 ? '+' : '') + (100 * d).toFixed(1), 'd');
        if (d > 0.0005) tr.className = 'grew'; else if (d < -0.0005) tr.className = 'shrank';
      } else {
        cell(fmtValue(r.self, topData.unit) + ' · ' + pct(r.self, topData.total));
        cell(fmtValue(r.total, topData.unit) + ' · ' + pct(r.total, topData.total));
      }
      if (r.name === state.focus) tr.classList.add('focused');
      var go = function () { state.focus = r.name === state.focus ? '' : r.name; update(false); };
      tr.addEventListener('click', go);
      tr.addEventListener('keydown', function (e) { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); go(); } });
    });
    box.appendChild(t);
  }

  // --- heatmaps ---
  var heatState = { device: new URLSearchParams(location.search).get('device') || '' };
  function loadHeatmaps() {
    var sec = $('heatmaps');
    cfg.latency.forEach(function (metric) {
      var wrap = $('heat-' + metric);
      if (!wrap) {
        wrap = document.createElement('div'); wrap.id = 'heat-' + metric; wrap.className = 'heat';
        var h = document.createElement('h2');
        h.textContent = metric === 'runqlat' ? 'Run-queue latency' : 'Block I/O latency';
        wrap.appendChild(h);
        if (metric === 'biolatency') {
          var l = document.createElement('label'); l.textContent = 'device ';
          var s = document.createElement('select'); s.id = 'device'; l.appendChild(s); wrap.appendChild(l);
          s.addEventListener('change', function () { heatState.device = s.value; loadHeatmaps(); });
        }
        var svg = document.createElementNS(SVGNS, 'svg'); svg.setAttribute('role', 'img');
        svg.setAttribute('aria-label', (metric === 'runqlat' ? 'run-queue' : 'block I/O') + ' latency heatmap: time across, log2 latency up, colour = count');
        wrap.appendChild(svg); sec.appendChild(wrap);
      }
      var p = new URLSearchParams({ metric: metric });
      if (metric === 'biolatency' && heatState.device) p.set('device', heatState.device);
      fetch('/api/heatmap?' + p.toString()).then(function (r) { return r.json(); }).then(function (hm) { drawHeatmap(wrap, hm); });
    });
  }
  function latencyText(slot) {
    var ns = Math.pow(2, slot);
    if (ns >= 1e9) return (ns / 1e9).toFixed(ns >= 1e10 ? 0 : 1) + ' s';
    if (ns >= 1e6) return (ns / 1e6).toFixed(ns >= 1e7 ? 0 : 1) + ' ms';
    if (ns >= 1e3) return (ns / 1e3).toFixed(ns >= 1e4 ? 0 : 1) + ' µs';
    return ns + ' ns';
  }
  function drawHeatmap(wrap, hm) {
    var svg = wrap.querySelector('svg');
    var sel = wrap.querySelector('select');
    if (sel) {
      var opts = [''].concat(hm.devices);
      if (sel.options.length !== opts.length) {
        sel.textContent = '';
        opts.forEach(function (d) { var o = document.createElement('option'); o.value = d; o.textContent = d || 'all devices'; sel.appendChild(o); });
      }
      sel.value = heatState.device;
    }
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var box = svg.getBoundingClientRect(), W = box.width, H = box.height;
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    var el = function (name, attrs, parent) { var e = document.createElementNS(SVGNS, name); for (var k in attrs) e.setAttribute(k, attrs[k]); (parent || svg).appendChild(e); return e; };
    var rows = hm.lastSlot - hm.firstSlot + 1, w = hm.windows;
    if (rows <= 0 || w.length === 0) {
      el('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', fill: 'currentColor' }).textContent = w.length === 0 ? 'No window yet' : 'No events in the retained windows';
      return;
    }
    var L = 56, T = 6, B = 20, R = 8, t0 = w[0][0], t1 = w[w.length - 1][1];
    var xOfT = function (t) { return L + (t - t0) / Math.max(1e-9, t1 - t0) * (W - L - R); };
    var rh = (H - T - B) / rows, yOf = function (slot) { return H - B - (slot - hm.firstSlot + 1) * rh; };
    var max = 0; hm.counts.forEach(function (c) { c.forEach(function (v) { max = Math.max(max, v); }); });
    var cells = el('g', { 'class': 'cells' });
    for (var i = 0; i < w.length; i++) {
      var x0 = xOfT(w[i][0]), x1 = xOfT(w[i][1]);
      for (var k = 0; k < rows; k++) {
        var v = hm.counts[i][k]; if (!(v > 0)) continue;
        var a = Math.log(1 + v) / Math.log(1 + max);
        el('rect', { 'class': 'cell', x: x0.toFixed(1), y: yOf(hm.firstSlot + k).toFixed(1), width: Math.max(0.8, x1 - x0).toFixed(1), height: Math.max(0.8, rh - 0.5).toFixed(1),
          fill: 'rgb(' + Math.round(255 - 40 * a) + ',' + Math.round(220 - 180 * a) + ',' + Math.round(120 - 100 * a) + ')', 'fill-opacity': (0.25 + 0.75 * a).toFixed(2),
          'data-i': i, 'data-k': k }, cells);
      }
    }
    ['p50', 'p99'].forEach(function (q) {
      var d = '', pen = false;
      hm[q].forEach(function (s, i) {
        if (s === null) { pen = false; return; }
        var y = yOf(s) + rh / 2, xm = (xOfT(w[i][0]) + xOfT(w[i][1])) / 2;
        d += (pen ? 'L' : 'M') + xm.toFixed(1) + ' ' + y.toFixed(1); pen = true;
      });
      el('path', { d: d, fill: 'none', stroke: q === 'p50' ? 'var(--accent)' : 'var(--grew)', 'stroke-width': 1.5, 'class': q, 'pointer-events': 'none' });
    });
    var step = Math.max(1, Math.ceil(rows / Math.max(1, Math.floor((H - T - B) / 14))));
    for (var s = hm.firstSlot; s <= hm.lastSlot; s += step) el('text', { x: L - 4, y: (yOf(s) + rh / 2 + 3).toFixed(1), 'font-size': 10, 'text-anchor': 'end', fill: 'currentColor' }).textContent = latencyText(s);
    el('text', { x: L, y: H - 5, 'font-size': 10, fill: 'currentColor' }).textContent = timeText(t0);
    el('text', { x: W - R, y: H - 5, 'font-size': 10, 'text-anchor': 'end', fill: 'currentColor' }).textContent = timeText(t1) + '   — p50   — p99 (red)';
    var tip = $('tip');
    cells.addEventListener('mousemove', function (e) {
      var c = e.target; if (!c.getAttribute || c.getAttribute('class') !== 'cell') return;
      var i = Number(c.getAttribute('data-i')), k = Number(c.getAttribute('data-k')), slot = hm.firstSlot + k;
      tip.textContent = timeText(w[i][0]) + '–' + timeText(w[i][1]) + '\n' + (slot > 0 ? latencyText(slot - 1) : '0') + ' – ' + latencyText(slot) + ': ' + hm.counts[i][k] + ' events'
        + '\np50 ≤ ' + (hm.p50[i] === null ? '–' : latencyText(hm.p50[i])) + ', p99 ≤ ' + (hm.p99[i] === null ? '–' : latencyText(hm.p99[i]));
      tip.style.display = 'block'; tip.style.left = (e.clientX + 12) + 'px'; tip.style.top = (e.clientY + 12) + 'px';
    });
    cells.addEventListener('mouseleave', function () { tip.style.display = 'none'; });
  }

  // --- the whole view from the state ---
  var timelineKey = '';
  function update(refetchTimeline) {
    writeState();
    cfg.profiles.forEach(function (k) { $('tab-' + k).setAttribute('aria-selected', String(k === state.type)); });
    $('cmp-off').classList.toggle('hidden', !comparing());
    var r = range();
    $('range').textContent = r ? (state.from === null ? 'Whole history: ' : 'Selected: ') + timeText(r[0]) + '–' + timeText(r[1]) + ' (' + Math.round(r[1] - r[0]) + ' s)' + (comparing() ? ' vs base ' + timeText(state.bfrom) + '–' + timeText(state.bto) : '') : '';
    var dl = graphQuery({}); dl.delete('type');
    // cpu is Go's /debug/pprof/profile; offcpu, wall and io have routes of their own name.
    $('download').href = '/debug/pprof/' + (state.type === 'cpu' ? 'profile' : state.type) + '?' + dl.toString();
    // The hint after pinning a base is done with once the range to compare is chosen.
    if (comparing() && (state.from !== state.bfrom || state.to !== state.bto) && $('status').textContent.indexOf('Base pinned') === 0) status('');
    var tk = new URLSearchParams(filterQuery()); tk.set('type', state.type); tk.set('by', state.by);
    if (refetchTimeline || tk.toString() !== timelineKey) {
      timelineKey = tk.toString();
      status('loading…');
      // The page came with the timeline it opens on: used once, for that query.
      var given = cfg.timeline && cfg.timeline.query === timelineKey ? cfg.timeline.data : null;
      cfg.timeline = null;
      return (given ? Promise.resolve(given) : fetch('/api/timeline?' + timelineKey).then(function (res) {
        if (!res.ok) return res.text().then(function (t) { throw new Error(t); });
        return res.json();
      })).then(function (data) {
        // Drawn once, by update: the range, the download link and the graphs follow the timeline.
        timeline = data; status(''); drawLegend(); update(false);
      }).catch(function (err) { status(String(err.message || err).trim()); });
    }
    // The graph and the table are asked for first: the agent builds them while the timeline is drawn.
    drawGraphs(); loadTop(); drawTimeline(); renderTop();
  }
  window.addEventListener('resize', function () { drawTimeline(); });
  if (cfg.profiles.length === 0) status('No stack profiler is running (see hotpath serve --programs).');
  else update(true);
  loadHeatmaps();
})();
`;

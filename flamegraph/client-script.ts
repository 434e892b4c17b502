// The browser side of the flamegraph, inlined into every SVG and HTML page. Plain ES2017, no libraries, and
// the same code for a standalone SVG document and an HTML page: controls are found by id and may be SVG text
// (Search prompts) or HTML inputs. Geometry comes from data attributes written by render.ts: each frame's
// offset (data-o) and value (data-v) in value units and its depth (data-d), so zooming is exact at any depth.
export const CLIENT_SCRIPT = `(function () {
  'use strict';
  var svg = document.getElementById('flamegraph');
  if (!svg) return;
  var num = function (el, name) { return Number(el.getAttribute(name)); };
  var W = num(svg, 'data-graph-width'), PAD = num(svg, 'data-pad'), TOP = num(svg, 'data-top');
  var FH = num(svg, 'data-frame-height'), ROWS = num(svg, 'data-rows'), TOTAL = num(svg, 'data-total');
  var CHAR = num(svg, 'data-char-width');
  var inverted = svg.getAttribute('data-inverted') === '1';
  var HIGHLIGHT = 'rgb(230,0,230)';
  var frames = [];
  var byElement = new Map();
  var list = svg.querySelectorAll('g.frame');
  for (var i = 0; i < list.length; i++) {
    var g = list[i];
    var f = { g: g, rect: g.querySelector('rect'), text: g.querySelector('text'), name: g.getAttribute('data-name'),
      o: num(g, 'data-o'), v: num(g, 'data-v'), d: num(g, 'data-d'), fill: null };
    f.fill = f.rect.getAttribute('fill');
    frames.push(f);
    byElement.set(g, f);
  }
  var zoomed = null;
  var $ = function (id) { return document.getElementById(id); };
  var details = $('details'), matched = $('matched'), searchEl = $('search'), resetEl = $('reset'), invertEl = $('invert');
  var setText = function (el, s) { if (el) el.textContent = s; };

  function label(name, w) {
    var n = Math.floor((w - 6) / CHAR);
    if (n < 3) return '';
    return name.length <= n ? name : name.slice(0, n - 2) + '..';
  }

  function layout() {
    var zo = zoomed ? zoomed.o : 0, zv = zoomed ? zoomed.v : TOTAL, zd = zoomed ? zoomed.d : 0;
    var eps = TOTAL * 1e-12;
    for (var i = 0; i < frames.length; i++) {
      var f = frames[i], x, w, dim = false;
      if (f.d < zd) {
        if (f.o > zo + eps || f.o + f.v < zo + zv - eps) { f.g.setAttribute('display', 'none'); continue; }
        x = PAD; w = W; dim = true;
      } else {
        if (f.o < zo - eps || f.o + f.v > zo + zv + eps) { f.g.setAttribute('display', 'none'); continue; }
        x = PAD + (f.o - zo) / zv * W; w = f.v / zv * W;
      }
      var y = inverted ? TOP + f.d * FH : TOP + (ROWS - 1 - f.d) * FH;
      f.g.removeAttribute('display');
      if (dim) f.g.setAttribute('opacity', '0.5'); else f.g.removeAttribute('opacity');
      f.rect.setAttribute('x', x.toFixed(2));
      f.rect.setAttribute('y', String(y));
      f.rect.setAttribute('width', (w > 1 ? w - 0.5 : w).toFixed(2));
      f.text.setAttribute('x', (x + 3).toFixed(2));
      f.text.setAttribute('y', String(y + FH - 4.5));
      f.text.textContent = label(f.name, w);
    }
    svg.setAttribute('data-zoomed', zoomed ? zoomed.name : '');
    svg.setAttribute('data-inverted', inverted ? '1' : '0');
    if (resetEl) resetEl.style.opacity = zoomed ? '1' : '0.5';
  }

  function zoom(f) { zoomed = f.d === 0 ? null : f; layout(); }
  function reset() { zoomed = null; layout(); }

  function search(term) {
    var re = null;
    if (term) {
      try { re = new RegExp(term); } catch (e) { setText(matched, 'Invalid regular expression'); return; }
    }
    var hits = [];
    for (var i = 0; i < frames.length; i++) {
      var f = frames[i];
      if (re && re.test(f.name)) { f.rect.setAttribute('fill', HIGHLIGHT); hits.push(f); }
      else f.rect.setAttribute('fill', f.fill);
    }
    if (!re) { setText(matched, ''); svg.removeAttribute('data-search'); return; }
    // Frames nest or are disjoint, so the union of their [o, o+v) ranges counts nested matches once.
    hits.sort(function (a, b) { return a.o - b.o || b.v - a.v; });
    var sum = 0, end = -Infinity;
    for (var j = 0; j < hits.length; j++) {
      var h = hits[j];
      if (h.o >= end) { sum += h.v; end = h.o + h.v; }
      else if (h.o + h.v > end) { sum += h.o + h.v - end; end = h.o + h.v; }
    }
    svg.setAttribute('data-search', term);
    setText(matched, 'Matched: ' + (TOTAL > 0 ? (100 * sum / TOTAL) : 0).toFixed(1) + '%');
  }

  svg.addEventListener('click', function (e) {
    var g = e.target && e.target.closest ? e.target.closest('g.frame') : null;
    var f = g ? byElement.get(g) : null;
    if (f) zoom(f);
  });
  svg.addEventListener('mouseover', function (e) {
    var g = e.target && e.target.closest ? e.target.closest('g.frame') : null;
    if (!g) return;
    var t = g.querySelector('title');
    setText(details, t ? t.textContent : '');
  });
  svg.addEventListener('mouseout', function (e) {
    var g = e.target && e.target.closest ? e.target.closest('g.frame') : null;
    if (g) setText(details, ' ');
  });
  if (resetEl) resetEl.addEventListener('click', function (e) { e.stopPropagation(); reset(); });
  if (invertEl) invertEl.addEventListener('click', function (e) { e.stopPropagation(); inverted = !inverted; layout(); });
  if (searchEl) {
    if (searchEl.tagName.toLowerCase() === 'input') {
      searchEl.addEventListener('input', function () { search(searchEl.value); });
    } else {
      searchEl.addEventListener('click', function (e) {
        e.stopPropagation();
        var term = window.prompt('Search frames (regular expression); empty clears', svg.getAttribute('data-search') || '');
        if (term !== null) search(term);
      });
    }
  }
  document.addEventListener('keydown', function (e) {
    if (e.key === 'Escape') reset();
  });
})();
`;

// The one markup escaper in hotpath: the flamegraph's SVG and HTML, and the agent's HTML pages, use it.

// XML 1.0 forbids most control characters even as references; names from binaries may hold them.
const INVALID_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;

/** escapeMarkup makes any string safe as XML/HTML text or a double- or single-quoted attribute value. */
export function escapeMarkup(s: string): string {
  return s
    .replace(INVALID_XML, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

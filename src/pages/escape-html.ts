// HTML escaping for text and quoted attributes: html/template's replacements
// for text, so a stop message renders byte-for-byte as under kamal-proxy.
const HTML_ESCAPES: Record<string, string> = {
  '\0': '\uFFFD',
  '"': '&#34;',
  '&': '&amp;',
  "'": '&#39;',
  '+': '&#43;',
  '<': '&lt;',
  '>': '&gt;',
};
const HTML_SPECIAL = /[\0"&'+<>]/g;

export function escapeHtml(s: string): string {
  return s.replace(HTML_SPECIAL, (c) => HTML_ESCAPES[c]);
}

// net/http's htmlEscape (http.Redirect's body): the same, less `+` and NUL.
const BASIC_SPECIAL = /["&'<>]/g;

export function escapeHtmlBasic(s: string): string {
  return s.replace(BASIC_SPECIAL, (c) => HTML_ESCAPES[c]!);
}

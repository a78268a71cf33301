// One look for every page the proxy writes itself: the error pages, the
// waiting page and the status page share this skeleton and stylesheet
// (typography, colours, light and dark). Each page adds only the styles of
// its own parts. Nothing is loaded from elsewhere: a page must render when
// the app behind it, or the network, is down.

// The palette, as custom properties so a page's own styles (and tests) use
// the same names. Dark follows the visitor's system setting.
const STYLE = `*,*::before,*::after{box-sizing:border-box}
:root{color-scheme:light dark;--kn-bg:#f4f3ef;--kn-surface:#fbfaf7;--kn-fg:#1f1d1a;--kn-muted:#57524a;--kn-line:#ddd9cf;
--kn-accent:#b6441b;--kn-ok:#2d7a3e;--kn-warn:#96640a;--kn-bad:#c0352b;--kn-sleep:#4b5fa6}
@media (prefers-color-scheme:dark){:root{--kn-bg:#161514;--kn-surface:#1e1d1b;--kn-fg:#efece6;--kn-muted:#aaa49a;--kn-line:#37342f;
--kn-accent:#f08a5d;--kn-ok:#6cc383;--kn-warn:#e0b252;--kn-bad:#f07a70;--kn-sleep:#97a8ea}}
body.kn{margin:0;min-height:100vh;display:grid;place-items:center;padding:2rem;background:var(--kn-bg);color:var(--kn-fg);
font:400 1rem/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;-webkit-font-smoothing:antialiased}
.kn main{width:min(100%,32rem)}
.kn .code{margin:0;font-size:clamp(5rem,22vw,9rem);font-weight:800;line-height:.9;letter-spacing:-.05em;color:var(--kn-accent);font-variant-numeric:tabular-nums}
.kn h1{margin:1.25rem 0 .5rem;padding-top:1.25rem;border-top:2px solid var(--kn-line);font-size:clamp(1.3rem,4vw,1.75rem);font-weight:650;line-height:1.25}
.kn p{margin:0;color:var(--kn-muted);overflow-wrap:anywhere}
.kn p+p{margin-top:.5rem}
.kn small{font-size:.875rem}
.kn button{font:inherit;padding:.4rem 1rem;border-radius:6px;border:1px solid var(--kn-accent);background:var(--kn-accent);color:var(--kn-bg);cursor:pointer}`;

export interface PageParts {
  title: string; // HTML: the caller escapes what it did not write itself
  body: string; // what goes inside <body>, usually one <main>
  style?: string; // the page's own CSS, after the shared stylesheet
  head?: string; // more <head> elements
  script?: string; // inline, at the end of <body>
}

export function htmlPage(p: PageParts): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
${p.head ? `${p.head}\n` : ''}<title>${p.title}</title>
<style>
${STYLE}${p.style ? `\n${p.style}` : ''}
</style>
</head>
<body class="kn">
${p.body}
${p.script ? `<script>\n${p.script}\n</script>\n` : ''}</body>
</html>
`;
}

// Error pages for the responses the proxy itself produces (kamal-proxy
// internal/pages + error_page_middleware.go). Built-in pages exist for
// 404/413/502/503/504; any other status gets kamal-proxy's bare
// `<h1>CODE Text</h1>`. A service's `--error-pages` directory overrides
// statuses one by one and falls back to the built-in page for the rest.
import { join } from 'node:path';
import { fsAsync } from '../util/node-fs.ts';
import { compileTemplate } from './template.ts';
import type { CompiledTemplate } from './template.ts';
import { htmlPage } from './page-style.ts';

export const CONTENT_TYPE_HTML = 'text/html; charset=utf-8';

// Go's http.StatusText, word for word (it keeps the RFC 7231 names such as
// "Request Entity Too Large").
const STATUS_TEXT = new Map<number, string>([
  [100, 'Continue'], [101, 'Switching Protocols'], [102, 'Processing'], [103, 'Early Hints'],
  [200, 'OK'], [201, 'Created'], [202, 'Accepted'], [203, 'Non-Authoritative Information'],
  [204, 'No Content'], [205, 'Reset Content'], [206, 'Partial Content'], [207, 'Multi-Status'],
  [208, 'Already Reported'], [226, 'IM Used'],
  [300, 'Multiple Choices'], [301, 'Moved Permanently'], [302, 'Found'], [303, 'See Other'],
  [304, 'Not Modified'], [305, 'Use Proxy'], [307, 'Temporary Redirect'], [308, 'Permanent Redirect'],
  [400, 'Bad Request'], [401, 'Unauthorized'], [402, 'Payment Required'], [403, 'Forbidden'],
  [404, 'Not Found'], [405, 'Method Not Allowed'], [406, 'Not Acceptable'],
  [407, 'Proxy Authentication Required'], [408, 'Request Timeout'], [409, 'Conflict'], [410, 'Gone'],
  [411, 'Length Required'], [412, 'Precondition Failed'], [413, 'Request Entity Too Large'],
  [414, 'Request URI Too Long'], [415, 'Unsupported Media Type'], [416, 'Requested Range Not Satisfiable'],
  [417, 'Expectation Failed'], [418, "I'm a teapot"], [421, 'Misdirected Request'],
  [422, 'Unprocessable Entity'], [423, 'Locked'], [424, 'Failed Dependency'], [425, 'Too Early'],
  [426, 'Upgrade Required'], [428, 'Precondition Required'], [429, 'Too Many Requests'],
  [431, 'Request Header Fields Too Large'], [451, 'Unavailable For Legal Reasons'],
  [500, 'Internal Server Error'], [501, 'Not Implemented'], [502, 'Bad Gateway'],
  [503, 'Service Unavailable'], [504, 'Gateway Timeout'], [505, 'HTTP Version Not Supported'],
  [506, 'Variant Also Negotiates'], [507, 'Insufficient Storage'], [508, 'Loop Detected'],
  [510, 'Not Extended'], [511, 'Network Authentication Required'],
]);

/** Go's http.StatusText: "" for a status it does not know. */
export function statusText(status: number): string {
  return STATUS_TEXT.get(status) ?? '';
}

// Built-in pages

// The page is itself a template so the 503 page goes through the same
// escaping as custom pages.
function pageSource(status: number, title: string, body: string): string {
  return htmlPage({
    title: `${status} ${title}`,
    body: `<main>\n<p class="code">${status}</p>\n<h1>${title}</h1>\n${body}\n</main>`,
  });
}

const BUILT_IN = new Map<number, CompiledTemplate>([
  [404, compileTemplate(pageSource(404, 'Not Found', '<p>Nothing is served at this address.</p>'))],
  [413, compileTemplate(pageSource(413, 'Request Entity Too Large', '<p>The request is larger than this server accepts.</p>'))],
  [502, compileTemplate(pageSource(502, 'Bad Gateway',
    '<p>The application could not be reached or sent an invalid response. Please try again in a moment.</p>'))],
  [503, compileTemplate(pageSource(503, 'Service Temporarily Unavailable',
    '{{ if .Message }}<p>{{ .Message }}</p>{{ else }}<p>The service is temporarily unavailable, ' +
    'perhaps for maintenance. Please try again shortly.</p>{{ end }}'))],
  [504, compileTemplate(pageSource(504, 'Gateway Timeout', '<p>The application took too long to respond. Please try again in a moment.</p>'))],
]);

// Every page without a message, rendered once: the hot path is a lookup.
const RENDERED = new Map<number, string>();
for (const status of STATUS_TEXT.keys()) RENDERED.set(status, bareHeading(status));
for (const [status, page] of BUILT_IN) RENDERED.set(status, page.render({ Message: '' }));

// What kamal-proxy's root error middleware writes when it has no template.
function bareHeading(status: number): string {
  return `<h1>${status} ${statusText(status)}</h1>`;
}

export function renderDefaultPage(status: number, message?: string): string {
  if (message) {
    const page = BUILT_IN.get(status);
    if (page !== undefined) return page.render({ Message: message });
  }
  return RENDERED.get(status) ?? bareHeading(status);
}

export interface ErrorPages {
  /** The custom page for `status` if there is one, else the built-in page. */
  render(status: number, message?: string): string;
}

export const defaultErrorPages: ErrorPages = { render: renderDefaultPage };

// Custom pages

const PAGE_FILE = /^\d{3}\.html$/;

// A service's pages: none without an --error-pages directory.
export async function loadPages(dir: string): Promise<ErrorPages | null> {
  return dir === '' ? null : loadErrorPages(dir);
}

/**
 * Loads `dir/<status>.html` (other names are ignored). Fails with
 * "unable to load error pages" (kamal-proxy's message) when the directory is
 * missing, holds no such file, or a template does not compile; the cause
 * says which.
 */
export async function loadErrorPages(dir: string): Promise<ErrorPages> {
  try {
    const names = (await fsAsync.readdir(dir)).filter((name) => PAGE_FILE.test(name)).sort();
    if (names.length === 0) throw new Error(`no <status>.html files in ${dir}`);
    const custom = new Map<number, CompiledTemplate>();
    for (const name of names) {
      const source = await fsAsync.readFile(join(dir, name), 'utf8');
      try {
        custom.set(Number(name.slice(0, 3)), compileTemplate(source));
      } catch (err) {
        throw new Error(`${join(dir, name)}: ${(err as Error).message}`);
      }
    }
    return {
      render(status, message) {
        const page = custom.get(status);
        return page === undefined ? renderDefaultPage(status, message) : page.render({ Message: message ?? '' });
      },
    };
  } catch (cause) {
    throw new Error('unable to load error pages', { cause });
  }
}

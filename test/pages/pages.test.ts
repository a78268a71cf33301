import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONTENT_TYPE_HTML, defaultErrorPages, loadErrorPages, renderDefaultPage, statusText } from '../../src/pages/pages.ts';

let root = '';
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'pages-test-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function pagesDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(root, 'dir-'));
  for (const [name, body] of Object.entries(files)) await writeFile(join(dir, name), body);
  return dir;
}

test('content type is kamal-proxy\'s', () => {
  assert.equal(CONTENT_TYPE_HTML, 'text/html; charset=utf-8');
});

test('statusText matches Go http.StatusText', () => {
  assert.equal(statusText(404), 'Not Found');
  assert.equal(statusText(413), 'Request Entity Too Large');
  assert.equal(statusText(418), "I'm a teapot");
  assert.equal(statusText(400), 'Bad Request');
  assert.equal(statusText(431), 'Request Header Fields Too Large');
  assert.equal(statusText(500), 'Internal Server Error');
  assert.equal(statusText(503), 'Service Unavailable');
  assert.equal(statusText(499), '');
});

test('built-in pages carry the status number and title, with no external assets', () => {
  const titles: Record<number, string> = {
    404: 'Not Found',
    413: 'Request Entity Too Large',
    502: 'Bad Gateway',
    503: 'Service Temporarily Unavailable',
    504: 'Gateway Timeout',
  };
  for (const [code, title] of Object.entries(titles)) {
    const page = renderDefaultPage(Number(code));
    assert.match(page, /^<!doctype html>/);
    assert.ok(page.includes(`<title>${code} ${title}</title>`), code);
    assert.ok(page.includes(`<h1>${title}</h1>`), code);
    assert.ok(page.includes(`>${code}</p>`), code);
    assert.doesNotMatch(page, /\{\{|https?:|src=|<link|@import|url\(/, code);
  }
});

test('503 shows the stop message escaped, else generic text', () => {
  const withMessage = renderDefaultPage(503, 'Gone to <lunch> & back');
  assert.match(withMessage, /Service Temporarily Unavailable/);
  assert.ok(withMessage.includes('<p>Gone to &lt;lunch&gt; &amp; back</p>'));
  assert.doesNotMatch(withMessage, /perhaps for maintenance/);
  const generic = renderDefaultPage(503);
  assert.match(generic, /perhaps for maintenance/);
  assert.equal(renderDefaultPage(503, ''), generic);
});

test('a message does not change pages that do not show one', () => {
  assert.equal(renderDefaultPage(404, 'ignored'), renderDefaultPage(404));
  assert.equal(renderDefaultPage(418, 'ignored'), renderDefaultPage(418));
});

test('other statuses get a bare heading, as kamal-proxy writes it', () => {
  assert.equal(renderDefaultPage(418), "<h1>418 I'm a teapot</h1>");
  assert.equal(renderDefaultPage(400), '<h1>400 Bad Request</h1>');
  assert.equal(renderDefaultPage(431), '<h1>431 Request Header Fields Too Large</h1>');
  assert.equal(renderDefaultPage(500), '<h1>500 Internal Server Error</h1>');
  assert.equal(renderDefaultPage(499), '<h1>499 </h1>');
});

test('defaultErrorPages renders the built-in pages', () => {
  assert.equal(defaultErrorPages.render(404), renderDefaultPage(404));
  assert.equal(defaultErrorPages.render(503, 'm'), renderDefaultPage(503, 'm'));
});

test('custom pages win; missing statuses fall back to built-in pages', async () => {
  const dir = await pagesDir({
    '404.html': '<p>custom not found</p>',
    '502.html': '{{ if .Message }}<i>{{ .Message }}</i>{{ else }}<i>none</i>{{ end }}',
    'README.md': 'ignored',
    'index.html': '{{ this is not a template we read }}',
  });
  const pages = await loadErrorPages(dir);
  assert.equal(pages.render(404), '<p>custom not found</p>');
  assert.equal(pages.render(502), '<i>none</i>');
  assert.equal(pages.render(502, 'a<b'), '<i>a&lt;b</i>');
  // No custom 503: the built-in page, still with the message.
  assert.equal(pages.render(503, 'Gone to lunch'), renderDefaultPage(503, 'Gone to lunch'));
  assert.match(pages.render(503, 'Gone to lunch'), /Service Temporarily Unavailable[\s\S]*Gone to lunch/);
  // In neither set: the bare heading.
  assert.equal(pages.render(418), "<h1>418 I'm a teapot</h1>");
});

test('a custom 503 gets the stop message', async () => {
  const dir = await pagesDir({ '503.html': '<p>{{ .Message }}</p>' });
  const pages = await loadErrorPages(dir);
  assert.equal(pages.render(503, 'Back soon'), '<p>Back soon</p>');
  assert.equal(pages.render(503), '<p></p>');
});

test('loading fails with "unable to load error pages"', async (t) => {
  const cases: Record<string, () => Promise<string>> = {
    'missing directory': async () => join(root, 'does-not-exist'),
    'empty directory': () => pagesDir({}),
    'no <status>.html files': () => pagesDir({ 'index.html': '<p>hi</p>', '5030.html': 'x', '50.html': 'x' }),
    'a template that does not compile': () => pagesDir({ '404.html': 'ok', '503.html': '{{ if .Message }}unclosed' }),
    'a page name that is a directory': async () => {
      const dir = await pagesDir({});
      await mkdir(join(dir, '404.html'));
      return dir;
    },
  };
  for (const [name, make] of Object.entries(cases)) {
    await t.test(name, async () => {
      const dir = await make();
      await assert.rejects(loadErrorPages(dir), (err: Error) => {
        assert.equal(err.message, 'unable to load error pages');
        assert.ok(err.cause instanceof Error);
        return true;
      });
    });
  }
});

test('the compile error names the file', async () => {
  const dir = await pagesDir({ '503.html': '{{ .Nope }}' });
  await assert.rejects(loadErrorPages(dir), (err: Error) => {
    assert.match((err.cause as Error).message, /503\.html: template: line 1/);
    return true;
  });
});

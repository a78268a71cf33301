import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeHtml } from '../../src/pages/escape-html.ts';
import { compileTemplate } from '../../src/pages/template.ts';

const render = (source: string, message: string): string => compileTemplate(source).render({ Message: message });

test('plain text renders unchanged', () => {
  assert.equal(render('<p>hello</p>\n', 'x'), '<p>hello</p>\n');
  assert.equal(render('', 'x'), '');
});

test('{{ .Message }} and {{.Message}} insert the message, HTML-escaped', () => {
  assert.equal(render('<p>{{ .Message }}</p>', 'Gone to lunch'), '<p>Gone to lunch</p>');
  assert.equal(render('<p>{{.Message}}|{{ .Message }}</p>', 'a'), '<p>a|a</p>');
  assert.equal(render('{{ .Message }}', `<b>"Tom" & 'Jerry'</b> 1+1`),
    '&lt;b&gt;&#34;Tom&#34; &amp; &#39;Jerry&#39;&lt;/b&gt; 1&#43;1');
  assert.equal(render('<p>{{ .Message }}</p>', ''), '<p></p>');
});

test('escapeHtml matches html/template, including NUL', () => {
  assert.equal(escapeHtml('a\0b<>'), 'a\uFFFDb&lt;&gt;');
  assert.equal(escapeHtml('plain'), 'plain');
});

test('if/else/end picks a branch on whether there is a message', () => {
  const src = '{{ if .Message }}<p>{{ .Message }}</p>{{ else }}<p>Down for maintenance</p>{{ end }}';
  assert.equal(render(src, 'Back at 5'), '<p>Back at 5</p>');
  assert.equal(render(src, ''), '<p>Down for maintenance</p>');
});

test('if without else, and nested ifs', () => {
  assert.equal(render('a{{if .Message}}[{{.Message}}]{{end}}b', 'm'), 'a[m]b');
  assert.equal(render('a{{if .Message}}[{{.Message}}]{{end}}b', ''), 'ab');
  const nested = '{{ if .Message }}1{{ if .Message }}2{{ else }}x{{ end }}3{{ else }}4{{ if .Message }}y{{ else }}5{{ end }}6{{ end }}';
  assert.equal(render(nested, 'm'), '123');
  assert.equal(render(nested, ''), '456');
});

test('Kamal-style fixture page renders with and without a message', () => {
  const src = `<html>
  <body>
    {{ if .Message }}
    <p>{{ .Message }}</p>
    {{ else }}
    <p>Temporarily unavailable</p>
    {{ end }}
  </body>
</html>
`;
  const withMessage = render(src, 'Maintenance until 10:00');
  assert.match(withMessage, /<p>Maintenance until 10:00<\/p>/);
  assert.doesNotMatch(withMessage, /Temporarily unavailable/);
  const without = render(src, '');
  assert.match(without, /<p>Temporarily unavailable<\/p>/);
  assert.doesNotMatch(without, /\{\{/);
});

test('comments render nothing and may span lines and contain braces', () => {
  assert.equal(render('a{{/* a comment */}}b', 'm'), 'ab');
  assert.equal(render('a{{/* multi\nline }} {{ .Nope }} */}}b', 'm'), 'ab');
  assert.equal(render('a  {{- /* trimmed */ -}}  b', 'm'), 'ab');
});

test('trim markers remove whitespace on their side only', () => {
  assert.equal(render('<p>\n  {{- .Message }}  </p>', 'm'), '<p>m  </p>');
  assert.equal(render('<p>  {{ .Message -}} \n\t </p>', 'm'), '<p>  m</p>');
  assert.equal(render('x \n{{- if .Message -}}\n  yes\n{{- else -}}\n  no\n{{- end -}}\n y', ''), 'xnoy');
  assert.equal(render('x \n{{- if .Message -}}\n  yes\n{{- else -}}\n  no\n{{- end -}}\n y', 'm'), 'xyesy');
});

test('a dash not followed by a space is not a trim marker (and not supported)', () => {
  assert.throws(() => compileTemplate('a {{-.Message}}'), /unsupported action/);
});

test('rendering is repeatable and independent per call', () => {
  const t = compileTemplate('[{{ .Message }}]');
  assert.equal(t.render({ Message: 'one' }), '[one]');
  assert.equal(t.render({ Message: 'two' }), '[two]');
  assert.equal(t.render({ Message: '' }), '[]');
});

test('unsupported or malformed templates fail to compile', () => {
  const bad = [
    '{{ .Other }}',
    '{{ .message }}',
    '{{ . }}',
    '{{ }}',
    '{{ .Message | html }}',
    '{{ template "x" }}',
    '{{ range .Message }}{{ end }}',
    '{{ if .Other }}x{{ end }}',
    '{{ if .Message }}x',
    '{{ if .Message }}x{{ else }}y',
    '{{ if .Message }}x{{ else }}y{{ else }}z{{ end }}',
    'x{{ end }}',
    'x{{ else }}',
    '<p>{{ .Message </p>',
    '{{/* never closed',
    '{{ /* space before comment */ }}',
    '{{/* text after */ x }}',
  ];
  for (const src of bad) assert.throws(() => compileTemplate(src), Error, src);
});

test('compile errors name the line', () => {
  assert.throws(() => compileTemplate('a\nb\n{{ .Nope }}'), /line 3/);
});

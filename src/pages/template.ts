// A small subset of Go's html/template: the part Kamal users write in custom
// error pages. kamal-proxy parses `--error-pages` files with html/template and
// passes one field, `.Message` (the stop message, on 503 pages). We accept:
//
//   {{ .Message }} / {{.Message}}          the message, HTML-escaped
//   {{ if .Message }} … {{ else }} … {{ end }}   (else optional, nesting allowed)
//   {{/* comment */}}
//   {{- … }} / {{ … -}}                    trim whitespace before / after
//
// Anything else is a compile error, so the deploy reports it (Go accepts more
// and fails some only when rendering). html/template escapes by context (URL,
// JS, CSS); we HTML-escape everywhere, right for text and quoted attributes,
// where a stop message goes in practice.
import { escapeHtml } from './escape-html.ts';

export interface CompiledTemplate {
  render(data: { Message: string }): string;
}

// Compiling resolves every `if` for both values of the one variable, so
// rendering is a constant (no message) or one join (with a message).
export function compileTemplate(source: string): CompiledTemplate {
  const nodes = parse(lex(source));
  const empty = flatten(nodes, false).join('');
  const segments = flatten(nodes, true);
  return {
    render(data) {
      if (!data.Message) return empty;
      return segments.length === 1 ? segments[0] : segments.join(escapeHtml(data.Message));
    },
  };
}

// Lexing

type Token = { kind: 'text'; text: string } | { kind: 'action'; words: string[]; line: number };

// Go's trim markers are "{{- " and " -}}": the dash must be separated from the
// action by whitespace (otherwise "{{-3}}" is a number).
const SPACE = /[ \t\r\n]/;
const TRAILING_SPACE = /[ \t\r\n]+$/;
const LEADING_SPACE = /^[ \t\r\n]+/;

function lex(source: string): Token[] {
  const tokens: Token[] = [];
  let pos = 0;
  let trimNext = false;
  for (;;) {
    const open = source.indexOf('{{', pos);
    let text = source.slice(pos, open === -1 ? undefined : open);
    if (trimNext) text = text.replace(LEADING_SPACE, '');
    if (open === -1) {
      pushText(tokens, text);
      return tokens;
    }
    const line = lineOf(source, open);
    let start = open + 2;
    if (source[start] === '-' && SPACE.test(source[start + 1] ?? '')) {
      text = text.replace(TRAILING_SPACE, '');
      start += 2;
    }
    pushText(tokens, text);

    const close = findClose(source, start, line);
    let inner = source.slice(start, close);
    trimNext = false;
    if (inner.length >= 2 && inner.endsWith('-') && SPACE.test(inner[inner.length - 2])) {
      trimNext = true;
      inner = inner.slice(0, -2);
    }
    pos = close + 2;
    if (inner.startsWith('/*')) {
      if (!inner.endsWith('*/')) {
        throw syntaxError(line, 'comment must end at the closing delimiter');
      }
      continue;
    }
    const words = inner.trim().split(/[ \t\r\n]+/);
    tokens.push({ kind: 'action', words, line });
  }
}

// A comment may contain "}}", so it ends at "*/}}" (or "*/ -}}"), not at the
// first "}}".
function findClose(source: string, start: number, line: number): number {
  if (source.startsWith('/*', start)) {
    const end = source.indexOf('*/', start + 2);
    if (end === -1) throw syntaxError(line, 'unclosed comment');
    const close = source.indexOf('}}', end + 2);
    if (close === -1) throw syntaxError(line, 'unclosed action');
    return close;
  }
  const close = source.indexOf('}}', start);
  if (close === -1) throw syntaxError(line, 'unclosed action');
  return close;
}

function pushText(tokens: Token[], text: string): void {
  if (text !== '') tokens.push({ kind: 'text', text });
}

function lineOf(source: string, index: number): number {
  let line = 1;
  for (let i = source.indexOf('\n'); i !== -1 && i < index; i = source.indexOf('\n', i + 1)) line++;
  return line;
}

function syntaxError(line: number, detail: string): Error {
  return new Error(`template: line ${line}: ${detail}`);
}

// Parsing

type Node = string | { kind: 'message' } | { kind: 'if'; then: Node[]; else: Node[] };

function parse(tokens: Token[]): Node[] {
  let i = 0;

  // Parses until {{ else }} / {{ end }} (returned to the caller) or the end.
  const block = (): { nodes: Node[]; stop: Token | null } => {
    const nodes: Node[] = [];
    while (i < tokens.length) {
      const t = tokens[i++];
      if (t.kind === 'text') {
        nodes.push(t.text);
        continue;
      }
      const [head, ...rest] = t.words;
      if (head === '.Message' && rest.length === 0) {
        nodes.push({ kind: 'message' });
      } else if (head === 'if' && rest.length === 1 && rest[0] === '.Message') {
        nodes.push(ifNode(t.line));
      } else if ((head === 'else' || head === 'end') && rest.length === 0) {
        return { nodes, stop: t };
      } else {
        throw syntaxError(t.line, `unsupported action {{ ${t.words.join(' ')} }}`);
      }
    }
    return { nodes, stop: null };
  };

  const ifNode = (line: number): Node => {
    const then = block();
    if (then.stop === null) throw syntaxError(line, 'unexpected EOF: {{ if }} without {{ end }}');
    if (then.stop.kind === 'action' && then.stop.words[0] === 'end') return { kind: 'if', then: then.nodes, else: [] };
    const otherwise = block();
    if (otherwise.stop === null) throw syntaxError(line, 'unexpected EOF: {{ if }} without {{ end }}');
    if (otherwise.stop.kind === 'action' && otherwise.stop.words[0] === 'else') {
      throw syntaxError(otherwise.stop.line, 'more than one {{ else }}');
    }
    return { kind: 'if', then: then.nodes, else: otherwise.nodes };
  };

  const top = block();
  if (top.stop !== null && top.stop.kind === 'action') {
    throw syntaxError(top.stop.line, `unexpected {{ ${top.stop.words[0]} }}`);
  }
  return top.nodes;
}

// Resolves every `if` for a message that is present or not, and returns the
// text around the places the message goes: segments.join(message).
function flatten(nodes: Node[], hasMessage: boolean): string[] {
  const segments = [''];
  const walk = (list: Node[]): void => {
    for (const n of list) {
      if (typeof n === 'string') segments[segments.length - 1] += n;
      else if (n.kind === 'message') segments.push('');
      else walk(hasMessage ? n.then : n.else);
    }
  };
  walk(nodes);
  return segments;
}

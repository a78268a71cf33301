// Which content types are worth compressing: text and the structured text
// formats (JSON, JavaScript, XML and SVG, WebAssembly, uncompressed fonts,
// icons). A list of what compresses rather than of what does not: a type we
// do not know (application/octet-stream, no type at all) is left as it is,
// as are images, audio, video, archives and WOFF fonts, which are compressed
// already and would only cost CPU.
const TYPES = new Set([
  'application/json',
  'application/javascript',
  'application/x-javascript',
  'application/ecmascript',
  'application/xml',
  'application/wasm',
  'application/x-ndjson',
  'application/yaml',
  'application/x-yaml',
  'application/toml',
  'application/graphql',
  'application/sql',
  'application/rtf',
  'application/x-sh',
  'application/vnd.ms-fontobject',
  'application/x-font-ttf',
  'application/x-font-otf',
  'application/x-font-opentype',
  'font/ttf',
  'font/otf',
  'font/collection',
  'image/x-icon',
  'image/vnd.microsoft.icon',
  'image/bmp',
]);

export function isCompressible(contentType: string): boolean {
  const semi = contentType.indexOf(';');
  const type = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  // text/* (HTML, CSS, CSV, event streams...), and +json / +xml suffixes
  // (image/svg+xml, application/ld+json, application/atom+xml...).
  return type.startsWith('text/') || type.endsWith('+json') || type.endsWith('+xml') || TYPES.has(type);
}

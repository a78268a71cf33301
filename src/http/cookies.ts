// Reading one cookie from a Cookie header the way Go's Request.Cookie does
// (first match wins, surrounding double quotes removed).
export function cookieValue(header: string | undefined, name: string): string {
  if (header === undefined) return '';
  let start = 0;
  while (start < header.length) {
    let end = header.indexOf(';', start);
    if (end === -1) end = header.length;
    const eq = header.indexOf('=', start);
    if (eq !== -1 && eq < end && header.slice(start, eq).trim() === name) {
      let value = header.slice(eq + 1, end).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      return value;
    }
    start = end + 1;
  }
  return '';
}

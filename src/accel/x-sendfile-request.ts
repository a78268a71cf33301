// With --x-sendfile-root, requests tell the app it may answer with X-Sendfile
// (Rack::Sendfile reads X-Sendfile-Type), as Thruster does. Whatever a client
// sent under that name is replaced: it is the proxy's to say. Without roots
// nothing is added or removed, as under kamal-proxy.
export function advertiseXSendfile(headers: string[]): void {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i]!.toLowerCase() === 'x-sendfile-type') {
      headers.splice(i, 2);
      i -= 2;
    }
  }
  headers.push('X-Sendfile-Type', 'X-Sendfile');
}

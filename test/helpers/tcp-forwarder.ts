// A TCP listener on 127.0.0.1 that pipes every connection to a unix socket:
// what a socket proxy in front of dockerd looks like to our Engine client
// (DOCKER_HOST=tcp://...), without its filtering.
import { connect, createServer, type Socket } from 'node:net';

export interface TcpForwarder {
  url: string; // http://127.0.0.1:<port>
  close(): Promise<void>;
}

export async function forwardTcpToUnix(socketPath: string): Promise<TcpForwarder> {
  const open = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(socketPath);
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('close', () => open.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}

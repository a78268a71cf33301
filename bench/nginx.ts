// nginx as the static backend and as the reference reverse proxy (each also
// with TLS and HTTP/2 for the HTTP/2 table), all as one worker (the box has 2
// vCPUs: the load tool takes one, backend and proxy share the other; see
// ../shared/reference/node-stack.md, Part B).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BODY } from './body.ts';
import { start, type Child } from './children.ts';
import { HOST } from './net.ts';
import type { Cert } from './tls.ts';

// Common to both: everything nginx writes stays inside its prefix dir.
function config(prefix: string, server: string, upstream = ''): string {
  return `worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path ${prefix}/tmp/body;
  proxy_temp_path ${prefix}/tmp/proxy;
  fastcgi_temp_path ${prefix}/tmp/fastcgi;
  uwsgi_temp_path ${prefix}/tmp/uwsgi;
  scgi_temp_path ${prefix}/tmp/scgi;
  default_type text/plain;
${upstream}  server {
${server}  }
}
`;
}

// Plain HTTP/1.1, or with a certificate TLS with HTTP/2 (h2 by ALPN; HTTP/1.1
// stays available to clients that ask for it). nginx 1.22 offers only TLS 1.2
// unless told otherwise; 1.3 is what Node and h2load pick with each other, so
// every target of the HTTP/2 table negotiates the same.
function listen(port: number, tls?: Cert): string {
  if (!tls) return `    listen ${HOST}:${port};\n`;
  return `    listen ${HOST}:${port} ssl http2;
    ssl_certificate ${tls.certFile};
    ssl_certificate_key ${tls.keyFile};
    ssl_protocols TLSv1.2 TLSv1.3;
`;
}

// Every path, including the proxy's /up health check, gets the 100-byte file,
// and so does a POST (bench/side-by-side.ts --post): nginx refuses other
// methods on a static file with 405, and an error page is served as a GET.
export function backendConfig(port: number, root: string, tls?: Cert): string {
  writeFileSync(join(root, 'body.txt'), BODY);
  return config(root, `${listen(port, tls)}    root ${root};
    location / { try_files /body.txt =404; error_page 405 =200 /body.txt; }
`);
}

export function reverseProxyConfig(port: number, backendPort: number, prefix: string, tls?: Cert): string {
  const upstream = `  upstream backend {
    server ${HOST}:${backendPort};
    keepalive 64;
    keepalive_requests 1000000;
  }
`;
  return config(prefix, `${listen(port, tls)}    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
    }
`, upstream);
}

export function startNginx(name: string, nginx: string, prefix: string, conf: string): Child {
  mkdirSync(join(prefix, 'tmp'), { recursive: true });
  const file = join(prefix, 'nginx.conf');
  writeFileSync(file, conf);
  // -e: without it nginx first opens its compiled-in error log under /var/log.
  return start(name, nginx, ['-e', join(prefix, 'error.log'), '-c', file, '-p', prefix, '-g', 'daemon off;'], { stderr: 'inherit' });
}

// nginx as the static backend and as the reference reverse proxy, both as one
// worker (the box has 2 vCPUs: wrk takes one, backend and proxy share the other;
// see /work/shared/reference/node-stack.md, Part B).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BODY } from './body.ts';
import { start, type Child } from './children.ts';
import { HOST } from './net.ts';

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

// Every path, including the proxy's /up health check, gets the 100-byte file.
export function backendConfig(port: number, root: string): string {
  writeFileSync(join(root, 'body.txt'), BODY);
  return config(root, `    listen ${HOST}:${port};
    root ${root};
    location / { try_files /body.txt =404; }
`);
}

export function reverseProxyConfig(port: number, backendPort: number, prefix: string): string {
  const upstream = `  upstream backend {
    server ${HOST}:${backendPort};
    keepalive 64;
    keepalive_requests 1000000;
  }
`;
  return config(prefix, `    listen ${HOST}:${port};
    location / {
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

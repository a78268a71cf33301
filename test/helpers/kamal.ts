// The Kamal replay harness: drives our proxy image exactly as Kamal v2.12.0
// drives kamal-proxy (doc: ../shared/reference/kamal-proxy.md §3), by
// running Kamal's own command lines through a shell, as SSHKit does on a
// server. Used by test/docker/kamal-replay*.test.ts.
//
// A KamalHost is one "server": a Docker network (Kamal's `kamal`), a run
// directory (the SSH user's home: `$PWD`, `.kamal/...` resolve there), and
// every container, volume and proxy made on it, removed by close().
//
// The lines are Kamal's, with only these adaptations, so parallel runs never
// meet:
// - unique names: network kn-<id>, proxy kamal-proxy-<id>, volume
//   kamal-proxy-config-<id>, services <name>-<id> (so `app-web` becomes
//   `app-<id>-web`);
// - `--publish 127.0.0.1:<free>:80 --publish 127.0.0.1:<free>:443` instead of
//   `--publish 80:80 --publish 443:443` (Kamal's `bind_ips` and `http_port`
//   give exactly this form); the test process talks only to 127.0.0.1;
// - a temp dir as `$PWD`, so `.kamal/proxy/apps-config` is per run;
// - napping: `proxy.run.options` (env, volume, group-add), which Kamal renders
//   with optionize() and puts before the image.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import type { Dispatcher } from 'undici';
import { TEST_IMAGE, withDocker } from './docker-app.ts';
import { freePort } from './free-port.ts';

export { withDocker };

const ROOT = resolve(import.meta.dirname, '../..');
export const BUILD_SCRIPT = 'test/docker/build-image.sh';
// Held around a proxy reboot: see KamalProxy.reboot().
export const REBOOT_LOCK = join(tmpdir(), 'kamal-napper-proxy-reboot.lock');
// What Kamal's prune filter selects: the image label every kamal-proxy image carries.
export const PROXY_IMAGE_TITLE_LABEL = 'org.opencontainers.image.title=kamal-proxy';
export const APP_IMAGE = TEST_IMAGE;
// KAMAL_HOST, and the first half of every app container's --hostname.
export const KAMAL_HOST = '127.0.0.1';
// Kamal's MINIMUM_VERSION (lib/kamal/configuration/proxy/run.rb), without the v.
export const KAMAL_PROXY_MIN_VERSION = '0.9.2';

const BUILD_TIMEOUT_MS = 240_000;
const COMMAND_TIMEOUT_MS = 60_000;
const DOCKER_ENV = { ...process.env, DOCKER_HOST: process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock' };

// ---- shell

export interface ShellResult {
  line: string;
  code: number; // exit status; -1 when killed by the timeout
  stdout: string;
  stderr: string;
}

// Runs one command line through /bin/sh, as Kamal's commands are run on a
// server over SSH: quotes and `$PWD` are the shell's to interpret.
export function sh(line: string, options: { cwd?: string; timeoutMs?: number } = {}): Promise<ShellResult> {
  return new Promise((resolvePromise) => {
    execFile(
      '/bin/sh',
      ['-c', line],
      { cwd: options.cwd ?? ROOT, env: DOCKER_ENV, timeout: options.timeoutMs ?? COMMAND_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        let code = 0;
        if (error) code = typeof error.code === 'number' ? error.code : -1;
        resolvePromise({ line, code, stdout: stdout.toString(), stderr: stderr.toString() });
      },
    );
  });
}

export function explain(r: ShellResult): string {
  return `\`${r.line}\` exited ${r.code}\n--- stdout\n${r.stdout.trim()}\n--- stderr\n${r.stderr.trim()}`;
}

// Throws unless the line exits 0; returns its trimmed stdout.
export async function must(line: string, options: { cwd?: string; timeoutMs?: number } = {}): Promise<string> {
  const r = await sh(line, options);
  if (r.code !== 0) throw new Error(explain(r));
  return r.stdout.trim();
}

export function randomId(bytes = 4): string {
  return randomBytes(bytes).toString('hex');
}

// Holds an flock(1) lock on `file` while fn runs: a child `flock` keeps it
// until we close its stdin, and releases it if this process dies.
export async function withLock<T>(file: string, fn: () => Promise<T>, timeoutMs = 180_000): Promise<T> {
  const child = spawn('flock', ['--timeout', String(Math.ceil(timeoutMs / 1000)), file, 'sh', '-c', 'echo locked; exec cat >/dev/null'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const locked = await new Promise<boolean>((r) => {
    child.stdout.once('data', () => r(true));
    child.once('exit', () => r(false));
    child.once('error', () => r(false));
  });
  if (!locked) throw new Error(`could not lock ${file} within ${timeoutMs} ms: ${stderr.trim()}`);
  try {
    return await fn();
  } finally {
    child.stdin.end();
    await exited;
  }
}

// Polls until check() returns a value other than undefined/false, or fails
// naming `what` and the last thing seen.
export async function poll<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 30_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = undefined;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (last: ${last instanceof Error ? last.message : String(last)})`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

// ---- the image

// Builds our proxy image from the current source with the project's script,
// one build at a time across test files (the script holds a lock), and
// returns the tag it prints last.
export async function buildProxyImage(): Promise<string> {
  if (!existsSync(join(ROOT, BUILD_SCRIPT))) throw new Error(`${BUILD_SCRIPT} is missing: it builds the proxy image these tests run`);
  const r = await sh(`bash ${BUILD_SCRIPT}`, { cwd: ROOT, timeoutMs: BUILD_TIMEOUT_MS });
  if (r.code !== 0) throw new Error(`building the image failed: ${explain({ ...r, stdout: r.stdout.slice(-4000), stderr: r.stderr.slice(-4000) })}`);
  const tag = r.stdout.trim().split('\n').at(-1)?.trim() ?? '';
  if (tag === '') throw new Error(`${BUILD_SCRIPT} printed no image tag`);
  return tag;
}

// ---- Kamal's rendering

// Ruby's String#dump for the plain ASCII values we use, then Kamal's escapes
// of ` and $ (Kamal::Utils.escape_shell_value).
export function kamalQuote(value: string): string {
  return `"${value.replace(/[\\"]/g, '\\$&').replace(/[`$]/g, '\\$&')}"`;
}

// Kamal::Utils.optionize, as proxy.run.options are rendered: `--key "value"`,
// a list repeats the option, `true` is a bare flag.
export function optionize(options: Record<string, string | string[] | true>): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(options)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      out.push(v === true ? `--${key}` : `--${key} ${kamalQuote(v)}`);
    }
  }
  return out;
}

// Kamal::Utils.argumentize("--label", labels): `--label key="value"`; an
// empty value gives the bare key (Docker then sets the label to "").
export function labelArgs(labels: [string, string][]): string[] {
  return labels.map(([k, v]) => (v === '' ? `--label ${k}` : `--label ${k}=${kamalQuote(v)}`));
}

// A busybox program as Kamal's `cmd:` for the app image: the script travels
// base64-encoded, so it reaches the container's sh byte for byte through
// both shells. Every program traps TERM so `docker stop` ends it at once
// (busybox httpd as PID 1 would ignore SIGTERM and cost the 10 s grace).
function busyboxCmd(script: string): string {
  const b64 = Buffer.from(script).toString('base64');
  return `sh -c 'echo ${b64} | base64 -d > /tmp/app.sh && exec sh /tmp/app.sh'`;
}

export const appPrograms = {
  // GET / answers `<text>\n`, /up answers OK (busybox httpd).
  static(text: string): string {
    if (!/^[\w.-]+$/.test(text)) throw new Error(`unsafe text ${text}`);
    return busyboxCmd(
      [
        "trap 'exit 0' TERM",
        'mkdir -p /srv',
        `echo ${text} > /srv/index.html`,
        'echo OK > /srv/up',
        'httpd -f -p 80 -h /srv &',
        'wait',
      ].join('\n'),
    );
  },
  // Listens nowhere: /up never answers.
  neverHealthy(): string {
    return busyboxCmd(["trap 'exit 0' TERM", 'sleep 86400 &', 'wait'].join('\n'));
  },
  // /cgi-bin/xff answers the X-Forwarded-For it received; /up answers OK.
  echoForwardedFor(): string {
    return busyboxCmd(
      [
        "trap 'exit 0' TERM",
        'mkdir -p /srv/cgi-bin',
        'echo OK > /srv/up',
        // CRLF line ends: busybox relays the CGI's header lines as they are,
        // and this app must not depend on the proxy accepting bare LFs.
        "cat > /srv/cgi-bin/xff <<'EOF'",
        '#!/bin/sh',
        `printf 'Content-Type: text/plain\\r\\n\\r\\n%s\\n' "$HTTP_X_FORWARDED_FOR"`,
        'EOF',
        'chmod +x /srv/cgi-bin/xff',
        'httpd -f -p 80 -h /srv &',
        'wait',
      ].join('\n'),
    );
  },
  // Every path, /up included, answers 200 `ok` with header lines ending in a
  // bare LF (busybox nc, one shell per connection).
  bareLf(): string {
    return busyboxCmd(
      [
        "trap 'exit 0' TERM",
        "cat > /tmp/respond <<'EOF'",
        '#!/bin/sh',
        "cr=$(printf '\\r')",
        'while IFS= read -r line; do',
        '  [ -z "$line" ] && break',
        '  [ "$line" = "$cr" ] && break',
        'done',
        "printf 'HTTP/1.1 200 OK\\nContent-Type: text/plain\\nContent-Length: 2\\nConnection: close\\n\\nok'",
        'EOF',
        'chmod +x /tmp/respond',
        'nc -ll -p 80 -e /tmp/respond &',
        'wait',
      ].join('\n'),
    );
  },
};

// ---- requests from the test process (to 127.0.0.1 only)

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

// A plain client: no Accept: text/html, a new connection each time (a
// kept-alive one could outlive a proxy container and fail the next request).
export async function get(port: number, host: string, path = '/', options: { headers?: Record<string, string>; dispatcher?: Dispatcher; timeoutMs?: number } = {}): Promise<Reply> {
  const timeout = options.timeoutMs ?? 60_000;
  const res = await request(`http://127.0.0.1:${port}${path}`, {
    headers: { host, ...options.headers },
    reset: options.dispatcher === undefined,
    dispatcher: options.dispatcher,
    headersTimeout: timeout,
    bodyTimeout: timeout,
  });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

// ---- Docker state, as the Engine reports it

export async function isRunning(container: string): Promise<boolean> {
  return (await must(`docker inspect -f '{{.State.Running}}' ${container}`)) === 'true';
}

// A Docker `--since/--until` timestamp for now.
export function dockerNow(): string {
  return (Date.now() / 1000).toFixed(3);
}

// Events of one action (start, die...) of one container since `since` (a dockerNow()).
export async function countEvents(container: string, action: string, since: string): Promise<number> {
  const out = await must(`docker events --since ${since} --until ${dockerNow()} --filter container=${container} --filter event=${action} --format '{{.ID}}'`);
  return out.split('\n').filter(Boolean).length;
}

// ---- Kamal's lines for one host

export interface ProxySpec {
  // proxy.run.options (Kamal renders them with optionize, before the image).
  runOptions?: Record<string, string | string[] | true>;
  // Another volume than this proxy's own (e.g. one the test prepared).
  volume?: string;
}

export interface AppSpec {
  service: string; // Kamal's `service:`; the proxy service is `<service>-<role>`
  role?: string; // default web
  version?: string; // default random hex, like a git SHA
  cmd: string; // Kamal's `cmd:`, e.g. appPrograms.static(...)
  labels?: Record<string, string>; // deploy.yml `labels:`
}

export interface KamalApp {
  service: string;
  role: string;
  version: string;
  prefix: string; // the container prefix and proxy service: <service>-<role>
  name: string; // <prefix>-<version>
  id: string; // 12 hex, from Kamal's `docker container ls ... --quiet`
}

export interface Accessory {
  service: string; // the accessory's service name and its proxy service, e.g. <app>-db
  name: string;
  id: string;
}

export interface DeploySpec {
  hosts: string[];
  deployTimeout?: number; // seconds (deploy.yml deploy_timeout), default 30
  drainTimeout?: number; // seconds (drain_timeout), default 30
}

export class KamalHost {
  readonly id: string;
  readonly network: string;
  readonly dir: string; // $PWD of every Kamal line
  readonly image: string;
  readonly proxies: KamalProxy[] = [];
  readonly #containers = new Set<string>();
  readonly #volumes = new Set<string>();

  private constructor(image: string, id: string, dir: string) {
    this.image = image;
    this.id = id;
    this.network = `kn-${id}`;
    this.dir = dir;
  }

  // `docker network create kamal`, with a name of our own.
  static async open(image: string): Promise<KamalHost> {
    const id = randomId();
    const dir = await mkdtemp(join(tmpdir(), `kn-kamal-${id}-`));
    const host = new KamalHost(image, id, dir);
    await host.must(`docker network create ${host.network}`);
    return host;
  }

  sh(line: string, timeoutMs?: number): Promise<ShellResult> {
    return sh(line, { cwd: this.dir, timeoutMs });
  }

  must(line: string, timeoutMs?: number): Promise<string> {
    return must(line, { cwd: this.dir, timeoutMs });
  }

  // A unique name for a service (or anything else) of this run.
  name(base: string): string {
    return `${base}-${this.id}`;
  }

  // A volume this host removes on close.
  async createVolume(base: string): Promise<string> {
    const name = `${base}-${this.id}-${randomId(2)}`;
    this.#volumes.add(name);
    await this.must(`docker volume create ${name}`);
    return name;
  }

  async proxy(spec: ProxySpec = {}): Promise<KamalProxy> {
    const n = this.proxies.length;
    const suffix = n === 0 ? this.id : `${this.id}-${n}`;
    const volume = spec.volume ?? `kamal-proxy-config-${suffix}`;
    this.#volumes.add(volume);
    const proxy = new KamalProxy(this, `kamal-proxy-${suffix}`, volume, await freePort(), await freePort(), spec.runOptions ?? {});
    this.#containers.add(proxy.name);
    this.proxies.push(proxy);
    return proxy;
  }

  // `kamal app boot`'s docker run for one role (§3.4), then the id lookup
  // Kamal uses as the proxy target.
  async runApp(spec: AppSpec): Promise<KamalApp> {
    const role = spec.role ?? 'web';
    const version = spec.version ?? randomId(6);
    const prefix = `${spec.service}-${role}`;
    const name = `${prefix}-${version}`;
    const envFile = `.kamal/apps/${spec.service}/env/roles/${role}.env`;
    await mkdir(join(this.dir, `.kamal/apps/${spec.service}/env/roles`), { recursive: true });
    await writeFile(join(this.dir, envFile), '\n'); // what Kamal uploads with no env
    const line = [
      'docker run --detach --restart unless-stopped',
      `--name ${name}`,
      `--network ${this.network}`,
      `--hostname ${KAMAL_HOST}-${randomId(6)}`,
      `--env KAMAL_CONTAINER_NAME=${kamalQuote(name)}`,
      `--env KAMAL_VERSION=${kamalQuote(version)}`,
      `--env KAMAL_HOST=${kamalQuote(KAMAL_HOST)}`,
      `--env-file ${envFile}`,
      `--log-opt max-size=${kamalQuote('10m')}`,
      ...labelArgs([['service', spec.service], ['role', role], ['destination', ''], ...Object.entries(spec.labels ?? {})]),
      APP_IMAGE,
      spec.cmd,
    ].join(' ');
    this.#containers.add(name);
    await this.must(line);
    const id = await this.must(`docker container ls --all --filter name=^${name}$ --quiet`);
    if (!/^[0-9a-f]{12}$/.test(id)) throw new Error(`docker container ls gave ${JSON.stringify(id)} for ${name}`);
    return { service: spec.service, role, version, prefix, name, id };
  }

  // `kamal accessory boot`: the accessory's run line (labelled only
  // service=<name>), and its target: running containers only.
  async runAccessory(service: string, cmd: string): Promise<Accessory> {
    const envFile = `.kamal/apps/${service}/env/accessories/${service}.env`;
    await mkdir(join(this.dir, `.kamal/apps/${service}/env/accessories`), { recursive: true });
    await writeFile(join(this.dir, envFile), '\n');
    const line = [
      `docker run --name ${service} --detach --restart unless-stopped`,
      `--network ${this.network}`,
      `--log-opt max-size=${kamalQuote('10m')}`,
      `--env-file ${envFile}`,
      ...labelArgs([['service', service]]),
      APP_IMAGE,
      cmd,
    ].join(' ');
    this.#containers.add(service);
    await this.must(line);
    const id = await this.must(`docker container ls --filter name=^${service}$ --quiet`);
    if (!/^[0-9a-f]{12}$/.test(id)) throw new Error(`docker container ls gave ${JSON.stringify(id)} for ${service}`);
    return { service, name: service, id };
  }

  // How Kamal stops one version after a deploy (no -t: stop_timeout unset).
  stopVersion(app: KamalApp): Promise<string> {
    return this.must(`docker container ls --all --filter name=^${app.name}$ --quiet | xargs docker stop`);
  }

  // The docker half of `kamal app stop`: the latest running (or restarting)
  // container of the role. With none running, `xargs docker stop` fails,
  // and Kamal ignores that (raise_on_non_zero_exit: false): so the result.
  stopCurrent(service: string, role: string): Promise<ShellResult> {
    return this.sh(
      `docker ps --quiet --filter label=service=${service} --filter label=role=${role} --filter status=running --filter status=restarting --latest | xargs docker stop`,
    );
  }

  // The docker half of `kamal app start`; Kamal then runs the deploy line again.
  startApp(app: KamalApp): Promise<ShellResult> {
    return this.sh(`docker start ${app.name}`);
  }

  // Removes everything this host made, whatever state the tests left.
  async close(): Promise<void> {
    const errors: unknown[] = [];
    const attempt = async (fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (err) {
        errors.push(err);
      }
    };
    const removeContainers = async (names: string[]) => {
      if (names.length === 0) return;
      const r = await sh(`docker rm --force --volumes ${names.join(' ')}`);
      const failures = r.stderr.split('\n').filter((l) => l.trim() !== '' && !/No such container/i.test(l));
      if (r.code !== 0 && failures.length > 0) throw new Error(explain(r));
    };
    await attempt(() => removeContainers([...this.#containers]));
    // Then whatever is still attached to our network that we lost track of.
    await attempt(async () => removeContainers((await must(`docker ps --all --quiet --filter network=${this.network}`)).split('\n').filter(Boolean)));
    await attempt(() => must(`docker network rm ${this.network}`));
    for (const v of this.#volumes) {
      await attempt(async () => {
        const r = await sh(`docker volume rm ${v}`);
        if (r.code !== 0 && !/No such volume/i.test(r.stderr)) throw new Error(explain(r));
      });
    }
    await attempt(() => rm(this.dir, { recursive: true, force: true }));
    if (errors.length > 0) throw new Error(`cleaning up the Kamal host failed:\n${errors.map((e) => (e instanceof Error ? e.message : String(e))).join('\n')}`);
  }
}

export class KamalProxy {
  readonly host: KamalHost;
  readonly name: string;
  readonly volume: string;
  readonly httpPort: number;
  readonly httpsPort: number;
  readonly runOptions: Record<string, string | string[] | true>;

  constructor(host: KamalHost, name: string, volume: string, httpPort: number, httpsPort: number, runOptions: Record<string, string | string[] | true>) {
    this.host = host;
    this.name = name;
    this.volume = volume;
    this.httpPort = httpPort;
    this.httpsPort = httpsPort;
    this.runOptions = runOptions;
  }

  // Kamal's <run> (§3.1, with proxy.run).
  runLine(): string {
    return [
      `docker run --name ${this.name} --network ${this.host.network} --detach --restart unless-stopped`,
      `--volume ${this.volume}:/home/kamal-proxy/.config/kamal-proxy`,
      '--volume $PWD/.kamal/proxy/apps-config:/home/kamal-proxy/.apps-config',
      `--publish 127.0.0.1:${this.httpPort}:80 --publish 127.0.0.1:${this.httpsPort}:443`,
      '--log-opt max-size=10m',
      ...optionize(this.runOptions),
      // The suites run again with two threads serving: passed as an operator
      // would, through Kamal's proxy boot options.
      ...(process.env.KAMAL_NAPPER_WORKERS ? [`--env KAMAL_NAPPER_WORKERS=${process.env.KAMAL_NAPPER_WORKERS}`] : []),
      this.host.image,
      'kamal-proxy run',
    ].join(' ');
  }

  // `kamal proxy boot`: mkdir, then `docker container start kamal-proxy || <run>`;
  // returns once the server logged `Server started`. On a running proxy it
  // changes nothing, so a suite may call it to recover from a failed test.
  async boot(): Promise<void> {
    await this.host.must('mkdir -p .kamal/proxy/apps-config');
    await this.host.must(`docker container start ${this.name} || ${this.runLine()}`);
    await this.waitForLog('Server started');
  }

  // `kamal proxy reboot`: stop, prune by the image label, mkdir, run.
  //
  // Caveat: Kamal's prune removes *every* stopped container with the
  // kamal-proxy image label on the Docker host, not just this one; with
  // the run line kept as Kamal's we cannot label ours apart. So reboots of
  // all our test files take one lock, and before pruning we wait (bounded)
  // until the only stopped container with that label is ours, failing rather
  // than pruning a stranger's.
  async reboot(): Promise<{ oldId: string }> {
    const oldId = await this.containerId();
    await withLock(REBOOT_LOCK, async () => {
      await this.host.must(`docker container stop ${this.name}`);
      await poll('no stopped kamal-proxy container but ours before the prune', async () => {
        const stopped = await must(`docker ps --all --no-trunc --quiet --filter label=${PROXY_IMAGE_TITLE_LABEL} --filter status=created --filter status=exited --filter status=dead`);
        const others = stopped.split('\n').filter((id) => id !== '' && id !== oldId);
        if (others.length > 0) throw new Error(`other stopped containers with the label: ${others.join(', ')}`);
        return true;
      }, 30_000, 250);
      await this.host.must(`docker container prune --force --filter label=${PROXY_IMAGE_TITLE_LABEL}`);
      await this.host.must('mkdir -p .kamal/proxy/apps-config');
      await this.host.must(this.runLine());
    });
    await this.waitForLog('Server started');
    return { oldId };
  }

  async containerId(): Promise<string> {
    return must(`docker inspect -f '{{.Id}}' ${this.name}`);
  }

  // `docker exec kamal-proxy <cmd...>`, the rest of the line as given.
  exec(rest: string, timeoutMs?: number): Promise<ShellResult> {
    return this.host.sh(`docker exec ${this.name} ${rest}`, timeoutMs);
  }

  // Kamal's deploy line (§3.2; flags in Kamal's order), with the
  // healthcheck interval and path of deploy.yml's `proxy.healthcheck`.
  deployLine(service: string, targetId: string, d: DeploySpec): string {
    return [
      `docker exec ${this.name} kamal-proxy deploy ${service}`,
      `--target=${kamalQuote(`${targetId}:80`)}`,
      ...d.hosts.map((h) => `--host=${kamalQuote(h)}`),
      `--deploy-timeout=${kamalQuote(`${d.deployTimeout ?? 30}s`)}`,
      `--drain-timeout=${kamalQuote(`${d.drainTimeout ?? 30}s`)}`,
      `--health-check-interval=${kamalQuote('1s')}`,
      `--health-check-path=${kamalQuote('/up')}`,
      '--buffer-requests --buffer-responses',
      '--log-request-header="Cache-Control" --log-request-header="Last-Modified" --log-request-header="User-Agent"',
    ].join(' ');
  }

  deploy(app: KamalApp | Accessory, d: DeploySpec): Promise<ShellResult> {
    const service = 'prefix' in app ? app.prefix : app.service;
    return this.host.sh(this.deployLine(service, app.id, d), 120_000);
  }

  // `kamal app maintenance --message ...`
  maintenance(service: string, message: string): Promise<ShellResult> {
    return this.host.sh(`docker exec ${this.name} kamal-proxy stop ${service} --drain-timeout="30s" --message=${kamalQuote(message)}`);
  }

  // `kamal app live`
  live(service: string): Promise<ShellResult> {
    return this.host.sh(`docker exec ${this.name} kamal-proxy resume ${service}`);
  }

  // The proxy half of `kamal app stop`.
  remove(service: string): Promise<ShellResult> {
    return this.host.sh(`docker exec ${this.name} kamal-proxy remove ${service}`);
  }

  // Kamal's version check: the tag part of the running container's image.
  version(): Promise<string> {
    return this.host.must(`docker inspect ${this.name} --format '{{.Config.Image}}' | awk -F: '{print $NF}'`);
  }

  async logs(): Promise<string> {
    const r = await sh(`docker logs ${this.name} 2>&1`);
    if (r.code !== 0) throw new Error(explain(r));
    return r.stdout;
  }

  // The JSON lines of the log, parsed (other lines skipped).
  async jsonLogs(): Promise<Record<string, unknown>[]> {
    const out: Record<string, unknown>[] = [];
    for (const line of (await this.logs()).split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        out.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // a line cut short, or not ours
      }
    }
    return out;
  }

  async waitForLog(msg: string, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    try {
      return await poll(`${this.name} logs "${msg}"`, async () => (await this.jsonLogs()).find((l) => l.msg === msg), timeoutMs, 100);
    } catch (err) {
      const tail = (await this.logs().catch((e: Error) => e.message)).split('\n').slice(-30).join('\n');
      throw new Error(`${(err as Error).message}\n--- last log lines of ${this.name}\n${tail}`);
    }
  }

  get(host: string, path = '/', options: { headers?: Record<string, string>; dispatcher?: Dispatcher; timeoutMs?: number } = {}): Promise<Reply> {
    return get(this.httpPort, host, path, options);
  }

  // The tail of the proxy's log, for assertion messages.
  async tail(lines = 20): Promise<string> {
    return (await this.logs().catch((e: Error) => e.message)).split('\n').slice(-lines).join('\n');
  }
}

// Gem::Version's comparison for plain dotted numbers: a >= b.
export function versionAtLeast(a: string, b: string): boolean {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? 0;
    const y = pb[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

// The Node process, under the names prom-client's default metrics use (what
// dashboards for Node services expect), all read when scraped. The /proc
// figures are Linux's; elsewhere those lines are left out.
import { monitorEventLoopDelay, type ELDHistogram } from 'node:perf_hooks';
import { fs } from '../util/node-fs.ts';
import type { Exposition } from './text-format.ts';
import { labelPairs } from './text-format.ts';

const { readdirSync, readFileSync } = fs;

// prom-client's default sampling of the event loop delay. The sampling
// timer runs in libuv, without entering JavaScript.
const EVENT_LOOP_RESOLUTION_MS = 10;
const NS_PER_SECOND = 1e9;

export class ProcessMetrics {
  readonly #delay: ELDHistogram;
  readonly #version = labelPairs(versionLabels(process.version));

  constructor() {
    this.#delay = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });
    this.#delay.enable();
  }

  close(): void {
    this.#delay.disable();
  }

  async write(out: Exposition): Promise<void> {
    // How long a callback queued now waits for its turn.
    const lagSeconds = await new Promise<number>((resolve) => {
      const start = performance.now();
      setImmediate(() => resolve((performance.now() - start) / 1000));
    });
    const cpu = process.cpuUsage();
    const memory = process.memoryUsage();
    const gauge = (name: string, help: string, value: number) => out.family(name, 'gauge', help).sample('', value);
    const counter = (name: string, help: string, value: number) => out.family(name, 'counter', help).sample('', value);

    counter('process_cpu_user_seconds_total', 'Total user CPU time spent in seconds.', cpu.user / 1e6);
    counter('process_cpu_system_seconds_total', 'Total system CPU time spent in seconds.', cpu.system / 1e6);
    counter('process_cpu_seconds_total', 'Total user and system CPU time spent in seconds.', (cpu.user + cpu.system) / 1e6);
    gauge('process_start_time_seconds', 'Start time of the process since unix epoch in seconds.', Math.round(performance.timeOrigin / 1000));
    gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', memory.rss);
    const status = procStatus();
    if (status.VmSize !== undefined) gauge('process_virtual_memory_bytes', 'Virtual memory size in bytes.', status.VmSize);
    if (status.VmData !== undefined) gauge('process_heap_bytes', 'Process heap size in bytes.', status.VmData);
    const openFds = countOpenFds();
    if (openFds !== null) gauge('process_open_fds', 'Number of open file descriptors.', openFds);
    const maxFds = readMaxFds();
    if (maxFds !== null) gauge('process_max_fds', 'Maximum number of open file descriptors.', maxFds);

    gauge('nodejs_eventloop_lag_seconds', 'Lag of event loop in seconds.', lagSeconds);
    // Since the previous scrape.
    const d = this.#delay;
    const sampled = d.count > 0;
    const delay = (stat: string, help: string, ns: number) => gauge(`nodejs_eventloop_lag_${stat}_seconds`, help, sampled ? ns / NS_PER_SECOND : 0);
    delay('min', 'The minimum recorded event loop delay.', d.min);
    delay('max', 'The maximum recorded event loop delay.', d.max);
    delay('mean', 'The mean of the recorded event loop delays.', d.mean);
    delay('stddev', 'The standard deviation of the recorded event loop delays.', d.stddev);
    delay('p50', 'The 50th percentile of the recorded event loop delays.', d.percentile(50));
    delay('p90', 'The 90th percentile of the recorded event loop delays.', d.percentile(90));
    delay('p99', 'The 99th percentile of the recorded event loop delays.', d.percentile(99));
    d.reset();

    gauge('nodejs_heap_size_total_bytes', 'Process heap size from Node.js in bytes.', memory.heapTotal);
    gauge('nodejs_heap_size_used_bytes', 'Process heap size used from Node.js in bytes.', memory.heapUsed);
    gauge('nodejs_external_memory_bytes', 'Node.js external memory size in bytes.', memory.external);
    gauge('nodejs_active_resources_total', 'Total number of active resources.', process.getActiveResourcesInfo().length);
    out.family('nodejs_version_info', 'gauge', 'Node.js version info.').sample(this.#version, 1);
  }
}

// "v24.21.0" -> version, major, minor, patch, as prom-client labels them.
export function versionLabels(version: string): Record<string, string> {
  const [major = '', minor = '', patch = ''] = version.replace(/^v/, '').split('.');
  return { version, major, minor, patch };
}

// /proc/self/status sizes, in bytes ("VmSize:  123456 kB").
function procStatus(): { VmSize?: number; VmData?: number } {
  const text = readProc('/proc/self/status');
  if (text === null) return {};
  const kb = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(text);
    return m === null ? undefined : Number(m[1]) * 1024;
  };
  return { VmSize: kb('VmSize'), VmData: kb('VmData') };
}

function countOpenFds(): number | null {
  try {
    // Less the descriptor the listing itself holds open.
    return readdirSync('/proc/self/fd').length - 1;
  } catch {
    return null;
  }
}

// The soft limit ("Max open files  1024  1048576  files").
function readMaxFds(): number | null {
  const text = readProc('/proc/self/limits');
  const m = text === null ? null : /^Max open files\s+(\d+|unlimited)/m.exec(text);
  if (m === null || m[1] === 'unlimited') return null;
  return Number(m[1]);
}

function readProc(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

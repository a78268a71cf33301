// The status page: every service, its routes and targets, maintenance and
// nap state, in the design of the other built-in pages. A pure function of
// the snapshot, so what a browser sees is what /status.json says. Every
// value is escaped: hosts, messages and runtimes are the operator's text.
//
// It stays live by fetching itself every few seconds and swapping in the new
// <main>: one renderer for both, and no reload flicker. Without JavaScript it
// is a plain page that refreshes itself.
import { escapeHtml } from './escape-html.ts';
import { htmlPage } from './page-style.ts';
import type { NapStatus, RolloutStatus, ServiceStatus, StatusSnapshot, TargetStatus } from './status-fields.ts';

const REFRESH_SECONDS = 2;
const NO_SCRIPT_REFRESH_SECONDS = 10;

export function renderStatusPage(s: StatusSnapshot): string {
  const now = Date.parse(s.generatedAt);
  const asleep = s.services.filter((v) => v.nap?.state === 'stopped').length;
  return htmlPage({
    title: 'Status · kamal-napper',
    head: `<noscript><meta http-equiv="refresh" content="${NO_SCRIPT_REFRESH_SECONDS}"></noscript>`,
    style: STYLE,
    body: `<main id="status">
<p class="code" id="given-back">${escapeHtml(bytes(s.memoryGivenBackBytes))}</p>
<h1>memory given back by ${count(asleep, 'sleeping app')}</h1>
<p>${count(s.services.length, 'service')} · updated <time datetime="${escapeHtml(s.generatedAt)}">${escapeHtml(clock(s.generatedAt))}</time> · proxy started ${escapeHtml(ago(now - Date.parse(s.startedAt)))}</p>
${s.services.map((v) => service(v, now)).join('\n') || '<p class="empty">No services deployed.</p>'}
</main>`,
    script: SCRIPT,
  });
}

function service(v: ServiceStatus, now: number): string {
  // A sleeping app's targets are not health-checked: their last health says nothing now.
  const asleep = v.nap?.state === 'stopped';
  const maintenance = escapeHtml(v.maintenance);
  const rows: [string, string][] = [
    ['Hosts', v.hosts.length === 0 ? '<span class="muted">any host</span>' : list(v.hosts)],
    ['Paths', list(v.pathPrefixes)],
    ['TLS', v.tls ? 'on' : 'off'],
    ['Maintenance', `<span class="state m-${maintenance}">${maintenance}</span>${v.stopMessage ? ` · “${escapeHtml(v.stopMessage)}”` : ''}`],
    ['Targets', targets(v.targets, asleep)],
  ];
  if (v.readers.length > 0) rows.push(['Readers', targets(v.readers, asleep)]);
  if (v.rollout !== null) rows.push(['Rollout', rollout(v.rollout)]);
  rows.push(...nap(v.nap, now));
  return `<section class="service" data-service="${escapeHtml(v.name)}" data-maintenance="${maintenance}" data-nap="${escapeHtml(v.nap?.state ?? 'none')}">
<h2>${escapeHtml(v.name)}${badges(v)}</h2>
<dl>
${rows.map(([k, val]) => `<dt>${k}</dt><dd data-field="${k.toLowerCase().replace(/ /g, '-')}">${val}</dd>`).join('\n')}
</dl>
</section>`;
}

// At a glance: what is not simply serving.
function badges(v: ServiceStatus): string {
  let out = '';
  const m = escapeHtml(v.maintenance);
  if (v.maintenance !== 'running') out += ` <span class="badge m-${m}">${m}</span>`;
  if (v.nap !== null) out += ` <span class="badge n-${escapeHtml(v.nap.state)}">${NAP_BADGE[v.nap.state]}</span>`;
  return out;
}

const NAP_BADGE: Record<NapStatus['state'], string> = {
  running: 'awake',
  idle: 'awake',
  stopping: 'falling asleep',
  stopped: 'asleep',
  starting: 'waking up',
};

function nap(n: NapStatus | null, now: number): [string, string][] {
  if (n === null) return [['Nap state', '<span class="muted">not napping</span>']];
  const state = escapeHtml(n.state);
  const wakes = `${n.wakes} in total · ${n.wakesSinceStart.woken} since start` +
    (n.wakesSinceStart.failed > 0 ? ` · <span class="bad">${n.wakesSinceStart.failed} failed</span>` : '');
  return [
    ['Nap state', `<span class="state n-${state}">${state}</span> · ${n.idleTimeoutSeconds === 0 ? 'never naps by itself' : `naps after ${escapeHtml(duration(n.idleTimeoutSeconds))} idle`}`],
    ['Runtime', `<code>${escapeHtml(n.runtime)}</code>`],
    ['Last activity', n.activeRequests > 0
      ? `now · ${count(n.activeRequests, 'request')} in flight`
      : `<time datetime="${escapeHtml(n.lastActivityAt)}">${escapeHtml(ago(now - Date.parse(n.lastActivityAt)))}</time>`],
    ['Wakes', wakes + (n.heldNow > 0 ? ` · ${count(n.heldNow, 'request')} held now` : '')],
    ['Median wake', n.medianWakeSeconds === null ? '<span class="muted">none yet</span>' : escapeHtml(`${n.medianWakeSeconds.toFixed(1)} s`)],
    ['Memory given back', n.memoryAtSleepBytes > 0 ? escapeHtml(bytes(n.memoryAtSleepBytes)) : '<span class="muted">none (awake or unknown)</span>'],
  ];
}

function targets(list: TargetStatus[], asleep = false): string {
  if (list.length === 0) return '<span class="muted">none</span>';
  return `<ul class="targets">${list.map((t) =>
    `<li><span class="dot ${asleep ? 'n-stopped' : `h-${escapeHtml(t.health)}`}" aria-hidden="true"></span><code>${escapeHtml(t.address)}</code> ${asleep ? 'asleep' : escapeHtml(t.health)}` +
    `${t.inFlight > 0 ? ` · ${count(t.inFlight, 'request')} in flight` : ''}</li>`).join('')}</ul>`;
}

function rollout(r: RolloutStatus): string {
  const allowlist = r.split !== null && r.split.allowlist.length > 0 ? ` and the cookies ${list(r.split.allowlist)}` : '';
  const split = r.split === null ? 'deployed, no traffic yet' : `${r.split.percentage}% of traffic${allowlist}`;
  const readers = r.readers.length > 0 ? `<span class="muted">readers</span>${targets(r.readers)}` : '';
  return `${split}${targets(r.targets)}${readers}`;
}

function list(items: string[]): string {
  return items.map((i) => `<code>${escapeHtml(i)}</code>`).join(', ');
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

export function ago(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} days ago`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

function duration(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

// The time of day, in UTC like the rest of the proxy's logs.
function clock(iso: string): string {
  return `${iso.slice(11, 19)} UTC`;
}

const STYLE = `body.kn{place-items:start center}
.kn main{width:min(100%,52rem)}
.kn .code{font-size:clamp(3.5rem,12vw,5.5rem)}
.kn h2{margin:0 0 .75rem;font-size:1.2rem;font-weight:650;display:flex;flex-wrap:wrap;align-items:center;gap:.5rem}
.service{margin-top:1.5rem;padding:1.25rem 1.5rem;background:var(--kn-surface);border:1px solid var(--kn-line);border-radius:10px}
.service dl{margin:0;display:grid;grid-template-columns:10rem 1fr;gap:.3rem 1.5rem}
.service dt{color:var(--kn-muted)}
.service dd{margin:0;overflow-wrap:anywhere}
.kn code{font:.9em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.muted{color:var(--kn-muted)}
.targets{margin:0;padding:0;list-style:none}
.dot{display:inline-block;width:.6rem;height:.6rem;margin-right:.45rem;border-radius:50%;background:var(--kn-muted)}
.badge{font-size:.8rem;font-weight:600;padding:.1rem .55rem;border-radius:999px;border:1px solid currentColor}
.h-healthy,.m-running,.n-running,.n-idle{color:var(--kn-ok)}.dot.h-healthy{background:var(--kn-ok)}
.h-adding,.m-paused,.n-starting,.n-stopping{color:var(--kn-warn)}.dot.h-adding{background:var(--kn-warn)}
.h-unhealthy,.m-stopped,.bad{color:var(--kn-bad)}.dot.h-unhealthy{background:var(--kn-bad)}
.n-stopped{color:var(--kn-sleep)}.dot.n-stopped{background:var(--kn-sleep)}
.stale main{opacity:.55}
@media (max-width:30rem){.service dl{grid-template-columns:1fr}.service dd{margin-bottom:.4rem}}`;

const SCRIPT = `(function () {
  // The page itself, fetched again: the server renders, this only swaps.
  function refresh() {
    fetch(location.href, { headers: { Accept: 'text/html' }, cache: 'no-store' })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.text(); })
      .then(function (html) {
        var next = new DOMParser().parseFromString(html, 'text/html').getElementById('status');
        if (next === null) throw new Error('no status in the page');
        document.getElementById('status').replaceWith(document.adoptNode(next));
        document.body.classList.remove('stale');
      })
      .catch(function () { document.body.classList.add('stale'); })
      .then(function () { setTimeout(refresh, ${REFRESH_SECONDS * 1000}); });
  }
  setTimeout(refresh, ${REFRESH_SECONDS * 1000});
})();`;

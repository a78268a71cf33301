// What a browser sees while its app wakes: a page sent at once (503,
// Retry-After, no-store: never a 200 a cache or crawler could keep) that
// follows the wake live over server-sent events and loads the app the moment
// it is ready. If the event stream cannot be opened, the page still reloads
// itself after Retry-After.
import * as d from '../config/defaults.ts';
import type { RequestContext } from '../http/context.ts';
import { sendResponse } from '../http/respond.ts';
import { CONTENT_TYPE_HTML } from '../pages/pages.ts';
import { escapeHtml } from '../pages/escape-html.ts';
import { htmlPage } from '../pages/page-style.ts';
import type { WakeProgress } from './napper.ts';
import type { NapGate } from './nap-gate.ts';

export function sendWaitingPage(ctx: RequestContext, napper: NapGate, eventsUrl: string): void {
  const body = waitingPage(napper.service, eventsUrl, napper.progress());
  sendResponse(ctx, 503, CONTENT_TYPE_HTML, body, ['Retry-After', String(d.NAP_RETRY_AFTER_SECONDS), 'Cache-Control', 'no-store']);
}

// The page's live feed: one JSON event per progress step, then `ready` (or
// the error) and the end of the stream.
export function serveWakeEvents(ctx: RequestContext, napper: NapGate, mayWake: boolean): void {
  const res = ctx.res!;
  if (napper.state === 'stopped' && napper.progress().error === '') {
    // Asleep, and no wake under way as far as this thread knows: the page was
    // served by a navigation that woke the app, but in another thread (or the
    // main thread, busy) whose word has not arrived. Ask too: one wake either
    // way, and no second waiting page. Where it may not wake the app, end the
    // stream so the page reloads after Retry-After.
    if (!mayWake) return sendResponse(ctx, 204, '', '', ['Cache-Control', 'no-store']);
    napper.wake(`${ctx.req.method} ${ctx.path}`).catch(() => {}); // a failure reaches the stream as progress
  }
  ctx.status = 200;
  ctx.respContentType = 'text/event-stream';
  res.writeHead(200, ['Content-Type', 'text/event-stream', 'Cache-Control', 'no-store', 'X-Accel-Buffering', 'no']);
  const send = (p: WakeProgress) => {
    const line = `data: ${JSON.stringify(p)}\n\n`;
    ctx.respBytes += line.length;
    res.write(line);
    if (p.ready || p.error !== '') {
      unsubscribe();
      res.end();
    }
  };
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  const unsubscribe = napper.subscribe(send);
  res.once('close', () => {
    clearInterval(heartbeat);
    unsubscribe();
  });
  send(napper.progress());
}

function waitingPage(service: string, eventsUrl: string, p: WakeProgress): string {
  const title = escapeHtml(service);
  return htmlPage({
    title: `Waking up ${title}…`,
    head: `<noscript><meta http-equiv="refresh" content="${d.NAP_RETRY_AFTER_SECONDS * 2}"></noscript>`,
    style: WAITING_STYLE,
    body: `<main id="main">
  <div class="spinner" aria-hidden="true"></div>
  <h1 class="waiting-only">Waking up ${title}…</h1>
  <h1 class="failed-only">${title} did not wake up</h1>
  <p id="step" role="status" aria-live="polite">${escapeHtml(describe(p))}</p>
  <p class="waiting-only"><small>This page loads the app by itself as soon as it is ready.</small></p>
  <p class="failed-only"><small>This page tries again by itself in <span id="retry">30</span> s.</small></p>
  <p class="failed-only"><button type="button" onclick="window.location.reload()">Try again now</button></p>
</main>`,
    script: waitingScript(eventsUrl),
  });
}

// The spinner stands where the error pages show their status number.
const WAITING_STYLE = `.spinner{width:4.5rem;height:4.5rem;border-radius:50%;border:.45rem solid var(--kn-line);border-top-color:var(--kn-accent);animation:spin .9s linear infinite}
@keyframes spin{to{transform:rotate(360deg)}}
@media (prefers-reduced-motion:reduce){.spinner{animation-duration:3s}}
#step{font-variant-numeric:tabular-nums}
.failed .spinner{animation:none;border-color:var(--kn-bad)}
.failed-only{display:none}
.failed .waiting-only{display:none}.failed .failed-only{display:block}`;

function waitingScript(eventsUrl: string): string {
  return `(function () {
  var step = document.getElementById('step');
  var reloadAfter = ${d.NAP_RETRY_AFTER_SECONDS * 1000};
  var last = null, lastAt = Date.now(), done = false;
  function describe(p) {
    // Elapsed time runs on between events (a container start sends none).
    var s = Math.max(0, (p.elapsedMs + Date.now() - lastAt) / 1000).toFixed(1) + ' s';
    if (p.ready) return 'Ready, loading…';
    if (p.error) return 'Could not start: ' + p.error + '.';
    if (p.state === 'stopping') return 'Finishing a nap…';
    if (p.probes > 0) return 'Started, waiting until it answers (' + s + ')';
    if (p.startAttempts > 1) return 'Starting, attempt ' + p.startAttempts + ' (' + s + ')';
    return 'Starting (' + s + ')';
  }
  function reload() { window.location.reload(); }
  function fail() {
    done = true;
    document.getElementById('main').className = 'failed';
    // Each reload is a new wake: back off rather than retry in a loop.
    var left = 30, retry = document.getElementById('retry');
    setInterval(function () { if (--left <= 0) reload(); else retry.textContent = String(left); }, 1000);
  }
  setInterval(function () { if (last && !done) step.textContent = describe(last); }, 250);
  if (!window.EventSource) { setTimeout(reload, reloadAfter); return; }
  var events = new EventSource(${JSON.stringify(eventsUrl).replace(/</g, '\\u003c')});
  events.onmessage = function (e) {
    last = JSON.parse(e.data);
    lastAt = Date.now();
    step.textContent = describe(last);
    if (last.ready) { done = true; events.close(); reload(); }
    else if (last.error) { events.close(); fail(); }
  };
  events.onerror = function () { if (!done) { events.close(); setTimeout(reload, reloadAfter); } };
})();`;
}

function describe(p: WakeProgress): string {
  if (p.error) return `Could not start: ${p.error}.`;
  return 'Starting…';
}

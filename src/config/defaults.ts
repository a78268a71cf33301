// Every default lives here, with its unit in its name. Values mirror kamal-proxy
// (internal/server/service.go constants) unless a comment says why we differ.

// `run`
export const DEFAULT_HTTP_PORT = 80;
export const DEFAULT_HTTPS_PORT = 443;
export const DEFAULT_METRICS_PORT = 0;

// `deploy` deployment options
export const DEFAULT_DEPLOY_TIMEOUT_MS = 30_000;
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;

// `pause`
export const DEFAULT_MAX_PAUSE_MS = 30_000;

// Health checks
export const DEFAULT_HEALTH_CHECK_PATH = '/up';
export const DEFAULT_HEALTH_CHECK_INTERVAL_MS = 1_000;
export const DEFAULT_HEALTH_CHECK_TIMEOUT_MS = 5_000;
export const HEALTH_CHECK_USER_AGENT = 'kamal-proxy';

// Targets
export const DEFAULT_TARGET_PORT = 80;
export const DEFAULT_TARGET_TIMEOUT_MS = 30_000;
export const DEFAULT_WRITER_AFFINITY_TIMEOUT_MS = 1_000;
export const DEFAULT_BUFFER_MEMORY_BYTES = 1_048_576;
export const DEFAULT_MAX_REQUEST_BODY_BYTES = 0; // 0 = unlimited
export const DEFAULT_MAX_RESPONSE_BODY_BYTES = 0; // 0 = unlimited
// Body bytes through spill files between two requested young-generation
// collections (src/buffer/body-gc.ts).
export const BODY_GC_INTERVAL_BYTES = 8 * 1024 * 1024;

// Upstream connections, per target (src/upstream/http1-pool.ts). At most
// this many carry requests younger than UPSTREAM_PATIENCE_MS; more requests
// wait for one of them, so a load of short requests shares a few
// connections. Longer requests (SSE, long polls, slow uploads) stop counting,
// so they never starve short ones: as Go's Transport (kamal-proxy), which
// has no cap at all.
export const UPSTREAM_BUSY_CONNECTIONS_PER_TARGET = 100;
// kamal-proxy keeps up to 100 connections per target idle, and so do we.
export const UPSTREAM_IDLE_CONNECTIONS_PER_TARGET = 100;
// New connections ramp up (src/upstream/connect-window.ts): this many may be
// unproven (connecting, or not answered on yet) at first, one more per
// answer up to the threshold, then one more per window's worth of answers;
// half as many when a connect stalls (its SYN dropped by a full accept
// queue). A connection the app holds unanswered for UPSTREAM_PATIENCE_MS
// (a long poll) is taken as answered.
export const UPSTREAM_RAMP_INITIAL_CONNECTIONS = 4;
export const UPSTREAM_RAMP_THRESHOLD_CONNECTIONS = 8;
export const UPSTREAM_PATIENCE_MS = 100;
// A refused connect is retried, waiting this long and doubling, while the
// target has been refusing for less than UPSTREAM_REFUSED_RETRY_MS (an app
// restarting); after that a refusal is a 502 at once (a dead app).
export const UPSTREAM_CONNECT_RETRY_BACKOFF_MS = 25;
export const UPSTREAM_REFUSED_RETRY_MS = 1_000;
// Shorter than the 5 s that Node, Puma and most app servers use for their
// keep-alive timeout, so we stop reusing a connection before the app closes it
// (that race otherwise turns into a spurious 502).
export const UPSTREAM_KEEP_ALIVE_TIMEOUT_MS = 4_000;
// A connect unanswered this long is given up and tried again, while the
// request may wait (its --target-timeout, or this long when it has none);
// undici's default.
export const UPSTREAM_CONNECT_TIMEOUT_MS = 10_000;

// Client side. kamal-proxy (Go net/http) sets no timeouts at all; we keep the
// ones that cost nothing for real clients and protect against slowloris.
export const CLIENT_HEADERS_TIMEOUT_MS = 60_000;
// How often node:http looks for connections over the headers timeout: it
// fires at most this much late.
export const CLIENT_HEADERS_CHECK_INTERVAL_MS = 1_000;
// Go keeps idle client connections forever; Node's default of 5 s would make
// browsers reconnect often. 2 minutes is what nginx-class proxies use.
export const CLIENT_KEEP_ALIVE_TIMEOUT_MS = 120_000;
// Go's net/http default (DefaultMaxHeaderBytes). Node's own default is 16 KiB,
// which rejects requests kamal-proxy accepts (large cookies).
export const MAX_HEADER_SIZE_BYTES = 1_048_576;

// HTTPS: Go's server default, which kamal-proxy keeps.
export const TLS_MIN_VERSION = 'TLSv1.2';
// Streams one HTTP/2 connection may have open at once: Go's default
// (x/net/http2 defaultMaxStreams), which kamal-proxy keeps. Node sets none.
export const HTTP2_MAX_CONCURRENT_STREAMS = 250;

// Shutdown: how long in-flight requests may run after SIGTERM/SIGINT.
export const SHUTDOWN_TIMEOUT_MS = 10_000;

// Files
export const STATE_FILE_NAME = 'kamal-proxy.state';
export const SOCKET_FILE_NAME = 'kamal-proxy.sock';

// Napping. The config-file keys are the original Kamal Napper's (seconds).
export const DEFAULT_NAP_IDLE_TIMEOUT_MS = 900_000; // idle_timeout
export const DEFAULT_NAP_POLL_INTERVAL_MS = 10_000; // poll_interval: how often we reconcile with the runtime
export const DEFAULT_NAP_WAKE_TIMEOUT_MS = 60_000; // startup_timeout, --wake-timeout
export const DEFAULT_NAP_MAX_RETRIES = 3; // max_retries: runtime start attempts after the first
// Readiness is the service's own health check, probed this often during a
// wake, so the first byte follows the app's readiness within tens of ms.
export const NAP_PROBE_INTERVAL_MS = 25;
export const NAP_RETRY_BACKOFF_BASE_MS = 250; // 250, 500, 1000 ms between start attempts
export const NAP_RETRY_AFTER_SECONDS = 1; // Retry-After on the waiting page and on a failed wake
// How far the state file's last activity may lag behind a busy app's (napper.ts):
// a tenth of its idle timeout, at most a minute.
export const NAP_ACTIVITY_SAVE_LAG_DIVISOR = 10;
export const NAP_ACTIVITY_SAVE_MAX_LAG_MS = 60_000;
export const NAP_CONFIG_FILE = 'config/kamal_napper.yml';
export const NAP_EVENTS_PATH = '/.kamal-napper/events'; // the waiting page's live progress (SSE)
// Monitors and bots neither wake an app nor keep it awake. Matched as
// case-insensitive substrings of User-Agent; narrower than the original
// Napper's (which also caught "check" and "monitor" in real API clients).
export const DEFAULT_NAP_IGNORE_USER_AGENTS = [
  'UptimeRobot',
  'Pingdom',
  'StatusCake',
  'BetterUptime',
  'Better Uptime',
  'Site24x7',
  'Uptime-Kuma',
  'HetrixTools',
  'Googlebot',
  'bingbot',
  'AhrefsBot',
  'SemrushBot',
  'YandexBot',
  'DuckDuckBot',
  'Baiduspider',
  'GPTBot',
  'ClaudeBot',
  'facebookexternalhit',
];

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
// --http-cache (src/accel/http-cache/): each service's budget, headers and
// bodies counted, and the largest response it keeps (Thruster's defaults).
export const DEFAULT_HTTP_CACHE_SIZE_BYTES = 64 * 1024 * 1024;
export const DEFAULT_HTTP_CACHE_MAX_ITEM_BYTES = 1024 * 1024;
// --compress (src/accel/compression.ts): a body of known length under this is
// sent as it is (it fits one packet anyway, and a coding's header and trailer
// eat much of what it would save). Levels chosen by bench/compression.ts, each
// where a higher one costs much more CPU for few bytes less; zstd's also
// beats gzip's on both.
export const COMPRESS_MIN_BYTES = 1024;
export const COMPRESS_GZIP_LEVEL = 6;
export const COMPRESS_BROTLI_QUALITY = 5;
export const COMPRESS_ZSTD_LEVEL = 6;
// Brotli's window (log2 bytes) for a body of known length, which also sizes
// its tables to that length.
export const COMPRESS_BROTLI_WINDOW_BITS = 20;
// A stream of unknown length (SSE) may stay open for hours: windows and match
// tables (log2 bytes) sized down for it. Brotli's tables shrink with its window
// only from this size down.
export const COMPRESS_BROTLI_STREAM_WINDOW_BITS = 16;
export const COMPRESS_ZSTD_STREAM_WINDOW_BITS = 18;
export const COMPRESS_ZSTD_STREAM_TABLE_BITS = 16;
// A body of known length up to this is collected and compressed in one call
// on the main thread, then sent with its Content-Length: at this size a zlib
// stream's own cost there is as large as the whole compressing. Larger bodies
// stream, and the thread pool does their compressing (bench/compression.ts).
export const COMPRESS_WHOLE_MAX_BYTES = 8 * 1024;
// Body bytes through spill files between two requested young-generation
// collections (src/buffer/body-gc.ts).
export const BODY_GC_INTERVAL_BYTES = 8 * 1024 * 1024;

// Upstream connections per target (src/upstream/http1-pool.ts): at most this
// many carry requests younger than UPSTREAM_PATIENCE_MS, and more requests
// wait. Older ones (SSE, long polls) stop counting, so they never starve
// short ones, as under Go's Transport, which has no cap.
export const UPSTREAM_BUSY_CONNECTIONS_PER_TARGET = 100;
// As kamal-proxy.
export const UPSTREAM_IDLE_CONNECTIONS_PER_TARGET = 100;
// New connections ramp up (src/upstream/connect-window.ts): this many
// unproven at first, one more per answer up to the threshold, then slower;
// halved when a connect stalls. A request unanswered for UPSTREAM_PATIENCE_MS
// (a long poll) counts as answered.
export const UPSTREAM_RAMP_INITIAL_CONNECTIONS = 4;
export const UPSTREAM_RAMP_THRESHOLD_CONNECTIONS = 8;
export const UPSTREAM_PATIENCE_MS = 100;
// A refused connect is retried, backing off from this, while the target has
// refused for less than UPSTREAM_REFUSED_RETRY_MS (an app restarting); then
// a refusal is a 502 at once.
export const UPSTREAM_CONNECT_RETRY_BACKOFF_MS = 25;
export const UPSTREAM_REFUSED_RETRY_MS = 1_000;
// Under the 5 s keep-alive timeout of Node, Puma and most app servers, so we
// stop reusing a connection before the app closes it (a spurious 502).
export const UPSTREAM_KEEP_ALIVE_TIMEOUT_MS = 4_000;
// A connect unanswered this long is tried again while the request may still
// wait; undici's default.
export const UPSTREAM_CONNECT_TIMEOUT_MS = 10_000;

// Client side. kamal-proxy sets no timeouts; these cost real clients nothing
// and stop slowloris.
export const CLIENT_HEADERS_TIMEOUT_MS = 60_000;
// How often node:http looks for connections over the headers timeout.
export const CLIENT_HEADERS_CHECK_INTERVAL_MS = 1_000;
// Go keeps idle clients forever; Node's 5 s would make browsers reconnect often.
export const CLIENT_KEEP_ALIVE_TIMEOUT_MS = 120_000;
// Go's DefaultMaxHeaderBytes: Node's 16 KiB refuses requests kamal-proxy
// accepts (large cookies).
export const MAX_HEADER_SIZE_BYTES = 1_048_576;

// --tls-staging's ACME directory, as in kamal-proxy.
export const LETS_ENCRYPT_STAGING_URL = 'https://acme-staging-v02.api.letsencrypt.org/directory';

// HTTPS: Go's server default, which kamal-proxy keeps.
export const TLS_MIN_VERSION = 'TLSv1.2';
// Open streams per HTTP/2 connection: Go's defaultMaxStreams, which
// kamal-proxy keeps. Node sets none.
export const HTTP2_MAX_CONCURRENT_STREAMS = 250;

// Shutdown: how long in-flight requests may run after SIGTERM/SIGINT.
export const SHUTDOWN_TIMEOUT_MS = 10_000;
// Threads that serve requests (run --workers, src/config/workers.ts). By
// default one per core up to two: on two cores a second thread takes the
// median at an ordinary load down to direct's, for 18–19 MiB; more threads are
// for throughput on big servers, asked for by number (bench/README.md, "Workers").
export const DEFAULT_WORKERS = 'auto';
export const WORKERS_AUTO_MAX = 2; // `auto`: one per core, up to this many
export const WORKERS_MAX = 64;
// Data-plane workers (run --workers): how long the main thread waits for a
// worker's answer (an idle check, metrics) before going on without it, and
// before it starts another in place of one that died.
export const WORKER_ANSWER_TIMEOUT_MS = 2_000;
export const WORKER_RESTART_DELAY_MS = 1_000;

// Files
export const STATE_FILE_NAME = 'kamal-proxy.state';
export const SOCKET_FILE_NAME = 'kamal-proxy.sock';

// Napping. The config-file keys are the original Kamal Napper's (seconds).
export const DEFAULT_NAP_IDLE_TIMEOUT_MS = 900_000; // idle_timeout
export const DEFAULT_NAP_POLL_INTERVAL_MS = 10_000; // poll_interval: how often we reconcile with the runtime
export const DEFAULT_NAP_WAKE_TIMEOUT_MS = 60_000; // startup_timeout, --wake-timeout
export const DEFAULT_NAP_MAX_RETRIES = 3; // max_retries: runtime start attempts after the first
// A wake probes the service's health check this often: served as soon as ready.
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

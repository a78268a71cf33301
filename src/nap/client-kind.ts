// Which requests may wake an app, and how each kind of client is answered
// while it wakes.
import type { ProxyRequest } from '../http/proxy-request.ts';

// A top-level browser navigation gets the waiting page at once; everything
// else (fetch/XHR, assets, API clients, non-GET, upgrades) is held.
export function isBrowserNavigation(req: ProxyRequest): boolean {
  if (req.method !== 'GET' || req.headers.upgrade !== undefined) return false;
  const mode = req.headers['sec-fetch-mode'];
  if (mode !== undefined) return mode === 'navigate' && req.headers['sec-fetch-dest'] !== 'iframe';
  return (req.headers.accept ?? '').includes('text/html');
}

// Monitors and bots: they neither wake an app nor keep it awake.
export function isIgnoredClient(req: ProxyRequest, ignoreUserAgents: readonly string[]): boolean {
  const ua = req.headers['user-agent'];
  if (ua === undefined || ignoreUserAgents.length === 0) return false;
  const lower = ua.toLowerCase();
  for (const pattern of ignoreUserAgents) if (lower.includes(pattern.toLowerCase())) return true;
  return false;
}

// The napping demo's app: the proxy starts it (--nap-command) when a request
// arrives and stops it after the idle timeout. It takes a while to boot on
// purpose, as a Rails app does, so the waiting page has something to show.
import { setTimeout as sleep } from 'node:timers/promises';
import { startDemoApp } from './demo-app.ts';

await sleep(Number(process.env.BOOT_DELAY_MS ?? 2000));
await startDemoApp('the napping demo app', Number(process.env.PORT));

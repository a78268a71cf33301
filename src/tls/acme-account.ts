// The ACME account: an ECDSA P-256 key kept in the cache as acme_account+key
// (autocert's name and key type, so kamal-proxy's account is reused), and a
// registration with the terms of service accepted and no contact address,
// as kamal-proxy does (autocert.AcceptTOS, no Email).
import { createPrivateKey } from 'node:crypto';
import type { Client } from 'acme-client';
import type { AcmeCache } from './acme-cache.ts';
import { acmeLib } from './acme-lib.ts';

// Several managers (one per service) share a cache directory: make sure they
// agree on one account key instead of racing to write two.
const accountKeys = new Map<string, Promise<string>>();

export interface AcmeClientOptions {
  directoryUrl: string;
  cache: AcmeCache;
  /** First delay when polling for a challenge or order status; doubles up to 10 s. */
  pollMinMs: number;
}

export async function openAcmeClient(opts: AcmeClientOptions): Promise<Client> {
  const accountKey = await loadAccountKey(opts.cache);
  const { Client } = await acmeLib();
  const client = new Client({
    directoryUrl: opts.directoryUrl,
    accountKey,
    backoffMin: opts.pollMinMs,
    backoffMax: 10_000,
    backoffAttempts: 12,
  });
  // A key the CA already knows (a restart, kamal-proxy's key) has its account
  // looked up, not re-registered: acme-client would follow a registration
  // that finds one with an update of nothing, which pebble refuses. A key it
  // does not know gets a new account.
  try {
    await client.createAccount({ onlyReturnExisting: true });
  } catch {
    await client.createAccount({ termsOfServiceAgreed: true });
  }
  return client;
}

// Returns PKCS#8 PEM, which acme-client signs with.
function loadAccountKey(cache: AcmeCache): Promise<string> {
  let key = accountKeys.get(cache.dir);
  if (!key) {
    key = readOrCreateAccountKey(cache);
    accountKeys.set(cache.dir, key);
    key.catch(() => accountKeys.delete(cache.dir));
  }
  return key;
}

async function readOrCreateAccountKey(cache: AcmeCache): Promise<string> {
  const stored = await cache.readAccountKey();
  if (stored) return createPrivateKey(stored).export({ type: 'pkcs8', format: 'pem' }) as string;
  const { crypto: acmeCrypto } = await acmeLib();
  const pkcs8 = (await acmeCrypto.createPrivateEcdsaKey('P-256')).toString();
  await cache.writeAccountKey(createPrivateKey(pkcs8).export({ type: 'sec1', format: 'pem' }) as string);
  return pkcs8;
}

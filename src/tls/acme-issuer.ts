// One certificate for one domain from an ACME CA, following Go autocert's
// flow (which kamal-proxy uses): try each challenge type in turn, each on a
// fresh order, until one is validated; then finalize with a new ECDSA P-256
// key. A CA-level failure (order refused, rate limit, finalize) ends the
// attempt at once; only a failed challenge moves on to the next type.
import { createPrivateKey } from 'node:crypto';
import type { Authorization, Client } from 'acme-client';
import { acmeLib } from './acme-lib.ts';
import type { ChallengeStore } from './acme-challenges.ts';
import { createAlpnChallengeCertificate } from './alpn-certificate.ts';

export type ChallengeType = 'http-01' | 'tls-alpn-01';

export interface Issued {
  keyPem: string; // SEC1 "EC PRIVATE KEY", as autocert writes it
  chainPem: string;
  challengeType: ChallengeType | null; // null: the CA reused a valid authorization
}

// A challenge of this type could not be completed (not offered, or the CA's
// validation failed): worth trying another type.
export class ChallengeFailedError extends Error {
  readonly challengeType: ChallengeType;

  constructor(challengeType: ChallengeType, cause: unknown) {
    super(`${challengeType} challenge failed: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.challengeType = challengeType;
  }
}

export async function issueCertificate(
  client: Client,
  domain: string,
  challengeTypes: readonly ChallengeType[],
  challenges: ChallengeStore,
  onChallengeFailed: (error: ChallengeFailedError) => void = () => {},
): Promise<Issued> {
  // acme-client's CSR helper reads PKCS#8 only; the cache gets SEC1.
  const { crypto: acmeCrypto } = await acmeLib();
  const keyPkcs8 = await acmeCrypto.createPrivateEcdsaKey('P-256');
  const [, csr] = await acmeCrypto.createCsr({ commonName: domain }, keyPkcs8);
  const failures: ChallengeFailedError[] = [];
  for (const type of challengeTypes) {
    const order = await client.createOrder({ identifiers: [{ type: 'dns', value: domain }] });
    let challengeType: ChallengeType | null = null;
    try {
      for (const authz of await client.getAuthorizations(order)) {
        if (authz.status === 'valid') continue;
        challengeType = type;
        await validate(client, authz, type, challenges);
      }
    } catch (err) {
      if (!(err instanceof ChallengeFailedError)) throw err;
      failures.push(err);
      onChallengeFailed(err);
      continue;
    }
    const finalized = await client.finalizeOrder(order, csr);
    const chainPem = await client.getCertificate(finalized);
    const keyPem = createPrivateKey(keyPkcs8).export({ type: 'sec1', format: 'pem' }) as string;
    return { keyPem, chainPem, challengeType };
  }
  throw new Error(`unable to authorize ${domain}: ${failures.map((f) => f.message).join('; ') || 'no challenge types'}`);
}

async function validate(client: Client, authz: Authorization, type: ChallengeType, store: ChallengeStore): Promise<void> {
  const domain = authz.identifier.value;
  // acme-client's types name http-01 and dns-01 only; a tls-alpn-01
  // challenge has the same fields.
  const challenge = authz.challenges.find((c) => (c.type as string) === type);
  if (!challenge) throw new ChallengeFailedError(type, new Error('not offered by the CA'));
  const keyAuthorization = await client.getChallengeKeyAuthorization(challenge);
  let completed = false;
  try {
    if (type === 'http-01') {
      store.setHttp(challenge.token, keyAuthorization);
    } else {
      const { keyPem, certPem } = await createAlpnChallengeCertificate(domain, keyAuthorization);
      store.setAlpn(domain, keyPem, certPem);
    }
    await client.completeChallenge(challenge);
    completed = true;
    await client.waitForValidStatus(challenge);
  } catch (err) {
    // A pending authorization we gave up on still counts against the CA's
    // limits: deactivate it, as autocert does (best effort).
    if (!completed) await client.deactivateAuthorization(authz).catch(() => {});
    throw new ChallengeFailedError(type, err);
  } finally {
    if (type === 'http-01') store.deleteHttp(challenge.token);
    else store.deleteAlpn(domain);
  }
}

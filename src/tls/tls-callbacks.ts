// SNICallback + ALPNCallback for the HTTPS listener, so one port serves the
// service certificates and answers TLS-ALPN-01 (RFC 8737), as Go's
// GetCertificate does from the ClientHello's ALPN list. Node's order of the
// two depends on the version: TLS 1.3 ALPN then SNI, TLS 1.2 SNI then ALPN;
// socket.setKeyCert() from ALPNCallback replaces the certificate either way.
// So ALPNCallback decides for acme-tls/1, and under TLS 1.2 SNICallback may
// answer before knowing whether the client is the CA's validator.
// ALPNCallback replaces ALPNProtocols (Node refuses both together).
import type tls from 'node:tls';
import { ACME_TLS_ALPN_PROTOCOL } from './acme-challenges.ts';

export interface TlsCallbacksOptions {
  /** The certificate for a server name (routed to its service's CertManager); null refuses the name. */
  getSecureContext(serverName: string): Promise<tls.SecureContext | null>;
  /** The TLS-ALPN-01 challenge certificate in flight for a name, if any. */
  alpnContext(serverName: string): tls.SecureContext | null;
  /** Protocols we speak, in our order of preference. Default: h2, http/1.1. */
  protocols?: readonly string[];
}

export interface TlsCallbacks {
  SNICallback(this: unknown, serverName: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void): void;
  ALPNCallback(this: unknown, arg: { servername: string; protocols: string[] }): string | undefined;
}

export function createTlsCallbacks(opts: TlsCallbacksOptions): TlsCallbacks {
  const protocols = opts.protocols ?? ['h2', 'http/1.1'];
  const validators = new WeakSet<object>(); // ALPN chose acme-tls/1 (TLS 1.3: before SNI)
  const others = new WeakSet<object>(); // ALPN chose something else (TLS 1.3: before SNI)
  const provisional = new WeakSet<object>(); // TLS 1.2: SNI answered with the challenge certificate

  return {
    SNICallback(serverName, cb) {
      const socket = this as tls.TLSSocket;
      const challenge = opts.alpnContext(serverName);
      if (validators.has(socket)) return cb(null, challenge ?? undefined);
      const pending = opts.getSecureContext(serverName);
      const answer = (ctx: tls.SecureContext | null) =>
        ctx ? cb(null, ctx) : cb(new Error(`unknown server name: ${serverName}`));
      if (!challenge || others.has(socket)) {
        pending.then(answer, (err: Error) => cb(err));
        return;
      }
      // A challenge is live and ALPN not known yet (TLS 1.2): this may be the
      // validator, and waiting for the certificate could mean waiting for this
      // very validation. Unless the certificate is at hand (a renewal), hand
      // out the challenge certificate and let ALPNCallback decide. A TLS 1.2
      // client with no ALPN keeps it and fails, only during a first validation.
      let settled = false;
      pending.then(
        (ctx) => {
          if (settled) return;
          settled = true;
          answer(ctx);
        },
        () => {},
      );
      setImmediate(() => {
        if (settled) return;
        settled = true;
        provisional.add(socket);
        cb(null, challenge);
      });
    },

    ALPNCallback({ servername, protocols: offered }) {
      const socket = this as tls.TLSSocket;
      // Only the validator offers acme-tls/1, and then alone (RFC 8737 §3; autocert checks the same).
      if (offered.length === 1 && offered[0] === ACME_TLS_ALPN_PROTOCOL) {
        const challenge = opts.alpnContext(servername);
        if (!challenge) return undefined;
        validators.add(socket);
        socket.setKeyCert(challenge);
        return ACME_TLS_ALPN_PROTOCOL;
      }
      // A TLS 1.2 client that got the challenge certificate: we cannot wait
      // for the real one here, so refuse it (it can retry moments later).
      if (provisional.has(socket)) return undefined;
      others.add(socket);
      return protocols.find((p) => offered.includes(p));
    },
  };
}

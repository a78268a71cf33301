// The self-signed certificate a TLS-ALPN-01 validator expects (RFC 8737 §3):
// a dNSName SAN for the domain and a critical acmeIdentifier extension holding
// SHA-256(key authorization).
//
// Not acme-client's createAlpnCertificate: its CA certificate allows only
// keyCertSign|cRLSign, for which OpenSSL picks no ECDHE-ECDSA cipher, so a
// TLS 1.2 validator fails. Like autocert we set no key usage and no CA flag.
// node:crypto cannot build certificates: the little DER is encoded by hand.
import { createHash, generateKeyPair, randomBytes, sign, type KeyObject } from 'node:crypto';

const OID_ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const OID_COMMON_NAME = '2.5.4.3';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';
const OID_ACME_IDENTIFIER = '1.3.6.1.5.5.7.1.31';
const VALIDITY_MS = 24 * 60 * 60 * 1000; // as autocert: the challenge lasts minutes

export async function createAlpnChallengeCertificate(
  domain: string,
  keyAuthorization: string,
  now = new Date(),
): Promise<{ keyPem: string; certPem: string }> {
  const { privateKey, publicKey } = await newP256KeyPair();
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x40; // positive, and no leading zero byte to strip
  const name = seq(set(seq(oid(OID_COMMON_NAME), tlv(0x0c, Buffer.from('ACME TLS-ALPN-01 challenge')))));
  const extensions = seq(
    seq(oid(OID_SUBJECT_ALT_NAME), octets(seq(tlv(0x82, Buffer.from(domain, 'ascii'))))),
    seq(oid(OID_ACME_IDENTIFIER), tlv(0x01, Buffer.from([0xff])), octets(octets(createHash('sha256').update(keyAuthorization).digest()))),
  );
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))), // version v3
    tlv(0x02, serial),
    seq(oid(OID_ECDSA_WITH_SHA256)),
    name,
    seq(time(now), time(new Date(now.getTime() + VALIDITY_MS))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    tlv(0xa3, extensions),
  );
  const signature = sign('sha256', tbs, privateKey); // DER ECDSA-Sig-Value
  const der = seq(tbs, seq(oid(OID_ECDSA_WITH_SHA256)), tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const body = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return {
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    certPem: `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`,
  };
}

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const length = n < 0x80 ? Buffer.from([n]) : lengthBytes(n);
  return Buffer.concat([Buffer.from([tag]), length, content]);
}

function lengthBytes(n: number): Buffer {
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

const seq = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat(items));
const octets = (content: Buffer) => tlv(0x04, content);

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const bytes = [a! * 40 + b!];
  for (const arc of rest) {
    const chunk = [arc & 0x7f];
    for (let v = arc >>> 7; v > 0; v >>>= 7) chunk.unshift(0x80 | (v & 0x7f));
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

// UTCTime up to 2049, GeneralizedTime after (RFC 5280 §4.1.2.5).
function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z'); // YYYYMMDDHHMMSSZ
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(iso.slice(2))) : tlv(0x18, Buffer.from(iso));
}

// Not util.promisify: an ES import of node:util builds its namespace, whose
// lazy getters load node:worker_threads and more (bench/README.md, "Memory").
function newP256KeyPair(): Promise<{ privateKey: KeyObject; publicKey: KeyObject }> {
  return new Promise((resolve, reject) => {
    generateKeyPair('ec', { namedCurve: 'P-256' }, (err, publicKey, privateKey) => {
      if (err) reject(err);
      else resolve({ privateKey, publicKey });
    });
  });
}

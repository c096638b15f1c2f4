import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';

/**
 * The webhook's own CA and serving certificate, made at start when no certificate is mounted:
 * ECDSA P-256 keys from node:crypto, the X.509 v3 certificates written here in DER (Node can
 * parse and verify certificates but not issue them; this writes the few structures RFC 5280 asks
 * for and nothing more). The API server is given the CA through the MutatingWebhookConfiguration's
 * caBundle (ca-bundle.ts); the private keys never leave the process.
 */

export interface IssuedCertificates {
  /** PEM of the CA certificate: the caBundle. */
  readonly caPem: string;
  /** PEM of the serving certificate followed by the CA's (the chain the server presents). */
  readonly certPem: string;
  readonly keyPem: string;
  readonly notAfter: Date;
}

// DER building blocks (X.690).
function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
}
const seq = (...c: Buffer[]): Buffer => tlv(0x30, ...c);
const set = (...c: Buffer[]): Buffer => tlv(0x31, ...c);
const octets = (b: Buffer): Buffer => tlv(0x04, b);
const bits = (b: Buffer, unused = 0): Buffer => tlv(0x03, Buffer.from([unused]), b);
const bool = (v: boolean): Buffer => tlv(0x01, Buffer.from([v ? 0xff : 0]));
function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out = [parts[0]! * 40 + parts[1]!];
  for (const p of parts.slice(2)) {
    const chunk: number[] = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}
function integer(b: Buffer): Buffer {
  // Positive: a leading 1 bit needs a 0 byte in front.
  return tlv(0x02, b[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
}
function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14); // YYYYMMDDHHMMSS
  // UTCTime up to 2049, GeneralizedTime after (RFC 5280 §4.1.2.5).
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`)) : tlv(0x18, Buffer.from(`${iso}Z`));
}
function name(commonName: string): Buffer {
  return seq(set(seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(commonName, 'utf8')))));
}
function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(id), bool(true), octets(value)) : seq(oid(id), octets(value));
}

const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));

interface Issue {
  readonly subject: string;
  readonly issuer: string;
  readonly publicKey: KeyObject;
  readonly signingKey: KeyObject;
  readonly ca: boolean;
  readonly dnsNames: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly issuerKeyId: Buffer | undefined;
}

function keyId(publicKey: KeyObject): Buffer {
  return createHash('sha1').update(publicKey.export({ type: 'spki', format: 'der' })).digest();
}

function certificate(o: Issue): Buffer {
  const serial = randomBytes(16);
  serial[0]! &= 0x7f;
  const exts: Buffer[] = [
    extension('2.5.29.19', true, o.ca ? seq(bool(true)) : seq()),
    // keyUsage: CA keyCertSign + cRLSign; leaf digitalSignature (ECDHE key agreement signs).
    extension('2.5.29.15', true, o.ca ? bits(Buffer.from([0x06]), 1) : bits(Buffer.from([0x80]), 7)),
    extension('2.5.29.14', false, octets(keyId(o.publicKey))),
  ];
  if (o.issuerKeyId !== undefined) exts.push(extension('2.5.29.35', false, seq(tlv(0x80, o.issuerKeyId))));
  if (!o.ca) {
    exts.push(extension('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'))));
    exts.push(extension('2.5.29.17', false, seq(...o.dnsNames.map((d) => tlv(0x82, Buffer.from(d, 'ascii'))))));
  }
  const tbs = seq(
    tlv(0xa0, integer(Buffer.from([2]))),
    integer(serial),
    ECDSA_SHA256,
    name(o.issuer),
    seq(time(o.notBefore), time(o.notAfter)),
    name(o.subject),
    o.publicKey.export({ type: 'spki', format: 'der' }),
    tlv(0xa3, seq(...exts)),
  );
  const signature = sign('sha256', tbs, o.signingKey);
  return seq(tbs, ECDSA_SHA256, bits(signature));
}

function pem(label: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

const DAY_MS = 86_400_000;

/**
 * A CA and a serving certificate for `dnsNames` (the first is the subject), valid from an hour ago
 * (clock skew) for `validDays`.
 */
export function issueCertificates(dnsNames: readonly string[], validDays = 365, now = new Date()): IssuedCertificates {
  if (dnsNames.length === 0) throw new RangeError('at least one DNS name');
  const notBefore = new Date(now.getTime() - 3_600_000);
  const notAfter = new Date(now.getTime() + validDays * DAY_MS);
  const ca = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const leaf = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const caName = `sextant-webhook-ca ${now.toISOString().slice(0, 19)}`;
  const caDer = certificate({ subject: caName, issuer: caName, publicKey: ca.publicKey, signingKey: ca.privateKey, ca: true, dnsNames: [], notBefore, notAfter, issuerKeyId: undefined });
  const leafDer = certificate({
    subject: dnsNames[0]!,
    issuer: caName,
    publicKey: leaf.publicKey,
    signingKey: ca.privateKey,
    ca: false,
    dnsNames,
    notBefore,
    notAfter,
    issuerKeyId: keyId(ca.publicKey),
  });
  const caPem = pem('CERTIFICATE', caDer);
  return {
    caPem,
    certPem: pem('CERTIFICATE', leafDer) + caPem,
    keyPem: leaf.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    notAfter,
  };
}

/** The names the API server may use for the webhook's Service. */
export function serviceDnsNames(service: string, namespace: string): string[] {
  return [`${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`, `${service}.${namespace}`, service];
}

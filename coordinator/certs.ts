import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';
import { hashToken, isSiteId } from './auth.ts';

/** Key size of every generated key. */
export const RSA_BITS = 2048;

/** A certificate and its private key, PEM. */
export interface PemPair {
  cert: string;
  key: string;
}

/** Everything a trial federation needs: a CA, the coordinator's certificate, and per site a client certificate and a token. */
export interface TrialCredentials {
  ca: PemPair;
  coordinator: PemPair;
  sites: Record<string, PemPair & { token: string }>;
  /** The coordinator's tokens file: `SITE sha256:HEX` lines (hashes only). */
  tokensFile: string;
}

function keyPair(): { privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey; pem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: RSA_BITS, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  return { privateKey: forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey, publicKey: forge.pki.publicKeyFromPem(publicKey) as forge.pki.rsa.PublicKey, pem: privateKey };
}

function newCert(publicKey: forge.pki.rsa.PublicKey, cn: string, days: number): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = `01${randomBytes(15).toString('hex')}`;
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + days * 86_400_000);
  cert.setSubject([{ name: 'commonName', value: cn }, { name: 'organizationName', value: 'fedkd trial' }]);
  return cert;
}

function issue(ca: { cert: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey }, cn: string, days: number, usage: 'server' | 'client', hosts: string[]): PemPair {
  const kp = keyPair();
  const cert = newCert(kp.publicKey, cn, days);
  cert.setIssuer(ca.cert.subject.attributes);
  const ext: object[] = [
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: usage === 'server', clientAuth: usage === 'client' },
  ];
  if (hosts.length) ext.push({ name: 'subjectAltName', altNames: hosts.map((h) => (isIP(h) ? { type: 7, ip: h } : { type: 2, value: h })) });
  cert.setExtensions(ext);
  cert.sign(ca.key, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: kp.pem };
}

/**
 * Creates a CA, a coordinator certificate (CN "coordinator", SANs "coordinator" and `hosts`) and, per site, a
 * client certificate whose CN is the site id (the coordinator checks it against the caller
 * under mutual TLS) and a random token. For trials; a consortium would use its own PKI.
 */
export function makeTrialCredentials(sites: string[], hosts: string[], days = 365): TrialCredentials {
  for (const s of sites) if (!isSiteId(s)) throw new Error(`bad site id '${s}'`);
  const caKeys = keyPair();
  const caCert = newCert(caKeys.publicKey, 'fedkd trial CA', days);
  caCert.setIssuer(caCert.subject.attributes);
  caCert.setExtensions([
    { name: 'basicConstraints', cA: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true },
  ]);
  caCert.sign(caKeys.privateKey, forge.md.sha256.create());
  const ca = { cert: caCert, key: caKeys.privateKey };
  const out: TrialCredentials = {
    ca: { cert: forge.pki.certificateToPem(caCert), key: caKeys.pem },
    coordinator: issue(ca, 'coordinator', days, 'server', [...new Set(['coordinator', ...hosts])]),
    sites: {},
    tokensFile: '',
  };
  const lines = ['# fedkd site tokens (hashes only; each site holds its own token)'];
  for (const s of sites) {
    const token = randomBytes(24).toString('base64url');
    out.sites[s] = { ...issue(ca, s, days, 'client', []), token };
    lines.push(`${s} ${hashToken(token)}`);
  }
  out.tokensFile = `${lines.join('\n')}\n`;
  return out;
}

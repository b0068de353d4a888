import { isIP } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { UserError } from '../core/errors.ts';

/** PEM material for the coordinator's side of TLS. */
export interface ServerTls {
  /** CA that signed the sites' certificates; with `requireClientCert` this makes mutual TLS. */
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  requireClientCert: boolean;
}

/** PEM material for a site's side of TLS; cert and key present for mutual TLS. */
export interface ClientTls {
  ca: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** True for a loopback host name or address (127.0.0.0/8, ::1, localhost). */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** The host part of HOST:PORT (brackets kept off an IPv6 address). */
export function hostOf(address: string): string {
  const m = /^\[([^\]]+)\]:\d+$/.exec(address) ?? /^([^:]+):\d+$/.exec(address);
  if (!m) throw new UserError(`bad address '${address}': expected HOST:PORT`);
  return m[1];
}

/** Server credentials: TLS (mutual when asked), or plain text, which only a loopback host may use. */
export function serverCredentials(host: string, tls: ServerTls | 'insecure'): grpc.ServerCredentials {
  if (tls === 'insecure') {
    if (!isLoopback(host)) throw new UserError(`plain-text transport is only allowed on loopback, not on ${host}: configure tls`);
    return grpc.ServerCredentials.createInsecure();
  }
  return grpc.ServerCredentials.createSsl(tls.ca, [{ cert_chain: tls.cert, private_key: tls.key }], tls.requireClientCert);
}

/** Channel credentials for a site: TLS (mutual with cert and key), or plain text to a loopback coordinator only. */
export function channelCredentials(address: string, tls: ClientTls | 'insecure'): grpc.ChannelCredentials {
  if (tls === 'insecure') {
    const host = hostOf(address);
    if (!isLoopback(host)) throw new UserError(`plain-text transport is only allowed to a loopback coordinator, not ${host}: give --ca`);
    return grpc.credentials.createInsecure();
  }
  if (Boolean(tls.cert) !== Boolean(tls.key)) throw new UserError('mutual TLS needs both a certificate and its key');
  return grpc.credentials.createSsl(tls.ca, tls.key ?? null, tls.cert ?? null);
}

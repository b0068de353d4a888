import type { Http2Server, Http2Session, ServerOptions } from 'node:http2';
import type * as grpc from '@grpc/grpc-js';

/**
 * HTTP/2 flow-control window (bytes) of each stream and of each connection, on both ends.
 * Node's default, 64 KB, makes a pushed model wait for a WINDOW_UPDATE every 64 KB.
 */
export const FLOW_CONTROL_WINDOW = 16 * 1024 * 1024;

/** The parts of a grpc-js 1.14 Server this module reaches into (private fields). */
interface ServerInternals {
  commonServerOptions?: ServerOptions;
  http2Servers?: Map<Http2Server, unknown>;
}

/**
 * grpc-js (1.14) reads 'grpc-node.flow_control_window' on the client only: a server's
 * receive window stays at 64 KB (grpc/grpc-node pull request 3058, open). This sets the
 * per-stream window in the SETTINGS of every new connection; call it before bindAsync.
 * Returns false, and changes nothing, when the grpc-js internals are not as expected.
 */
export function widenStreamWindow(server: grpc.Server, bytes = FLOW_CONTROL_WINDOW): boolean {
  const opts = (server as unknown as ServerInternals).commonServerOptions;
  if (!opts || typeof opts !== 'object') return false;
  opts.settings = { ...opts.settings, initialWindowSize: bytes };
  return true;
}

/**
 * Raises the connection-level receive window of every session the server accepts from now on
 * (the stream window alone still lets the connection stall at 64 KB); call it after bindAsync.
 * Returns the number of HTTP/2 listeners hooked (0: the grpc-js internals are not as expected).
 */
export function widenConnectionWindow(server: grpc.Server, bytes = FLOW_CONTROL_WINDOW): number {
  const listeners = (server as unknown as ServerInternals).http2Servers;
  if (!(listeners instanceof Map)) return 0;
  for (const http2Server of listeners.keys()) http2Server.on('session', (s: Http2Session) => s.setLocalWindowSize(bytes));
  return listeners.size;
}

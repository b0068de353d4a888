/**
 * Failures a federation call can end in, named after the gRPC status codes they map to,
 * so the in-process and the gRPC transports fail the same way.
 */
export type RpcCode = 'UNAUTHENTICATED' | 'INVALID_ARGUMENT' | 'NOT_FOUND' | 'FAILED_PRECONDITION' | 'UNAVAILABLE' | 'DATA_LOSS' | 'INTERNAL';

/** An error a federation call returns to the caller, with its status code. */
export class RpcError extends Error {
  override readonly name = 'RpcError';
  constructor(
    readonly code: RpcCode,
    message: string,
  ) {
    super(message);
  }
}

/** True for errors a client should retry after a backoff (the coordinator is away or restarting). */
export function isTransient(e: unknown): boolean {
  return e instanceof RpcError && (e.code === 'UNAVAILABLE' || e.code === 'INTERNAL' || e.code === 'DATA_LOSS');
}

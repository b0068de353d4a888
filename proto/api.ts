import type { Caller, PushReply, ReceivedResult, RegisterReply, Registration, Task } from './types.ts';

/**
 * The coordinator's side of the federation service in domain terms. The gRPC server
 * adapts it to the wire; the in-process link calls it directly. Methods throw RpcError.
 */
export interface FederationService {
  /** Throws UNAUTHENTICATED unless the caller is a known site with its token (checked on every call). */
  authenticate(caller: Caller): Promise<void>;
  register(caller: Caller, reg: Registration): Promise<RegisterReply>;
  pullTask(caller: Caller): Promise<Task>;
  /** The packed global weights named by their sha256. */
  fetchModel(caller: Caller, sha256: string): Promise<Uint8Array>;
  pushResult(caller: Caller, result: ReceivedResult): Promise<PushReply>;
  heartbeat(caller: Caller, busyRound: number): Promise<{ serverTimeMs: number }>;
}

/**
 * A site's connection to the coordinator: the calls a hospital makes, all outbound.
 * Implemented over gRPC (GrpcLink) and in-process (InProcessLink); the client agent
 * sees only this. Methods throw RpcError.
 */
export interface CoordinatorLink {
  register(reg: Registration): Promise<RegisterReply>;
  pullTask(): Promise<Task>;
  /** The packed global weights, checked against `sha256`. */
  fetchModel(sha256: string): Promise<Uint8Array>;
  pushResult(result: ReceivedResult): Promise<PushReply>;
  heartbeat(busyRound: number): Promise<{ serverTimeMs: number }>;
  close(): void;
}

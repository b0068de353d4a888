import { createHash } from 'node:crypto';
import type { CoordinatorLink, FederationService } from './api.ts';
import { RpcError } from './errors.ts';
import type { Caller, PushReply, ReceivedResult, RegisterReply, Registration, Task } from './types.ts';

/**
 * A site's link to a coordinator in the same process: the same calls, errors and
 * checks as over gRPC, without the network. Payloads are copied both ways, as the
 * wire would, so neither side can alias the other's buffers.
 */
export class InProcessLink implements CoordinatorLink {
  private readonly caller: Caller;
  private closed = false;

  constructor(
    private readonly service: FederationService,
    siteId: string,
    token: string,
  ) {
    this.caller = { siteId, token };
  }

  private check(): void {
    if (this.closed) throw new RpcError('UNAVAILABLE', 'link closed');
  }

  /** Registers this site. */
  async register(reg: Registration): Promise<RegisterReply> {
    this.check();
    return this.service.register(this.caller, reg);
  }

  /** Asks for the next task. */
  async pullTask(): Promise<Task> {
    this.check();
    return structuredClone(await this.service.pullTask(this.caller));
  }

  /** The model's bytes, checked against `sha256`. */
  async fetchModel(sha256: string): Promise<Uint8Array> {
    this.check();
    const bytes = (await this.service.fetchModel(this.caller, sha256)).slice();
    const got = createHash('sha256').update(bytes).digest('hex');
    if (got !== sha256) throw new RpcError('DATA_LOSS', `payload sha256 mismatch: expected ${sha256}, got ${got}`);
    return bytes;
  }

  /** Pushes a result (authenticated first, as the gRPC server does before reading the stream). */
  async pushResult(result: ReceivedResult): Promise<PushReply> {
    this.check();
    await this.service.authenticate(this.caller);
    return this.service.pushResult(this.caller, { ...result, metrics: { ...result.metrics }, payload: result.payload.slice() });
  }

  /** Says the site is alive. */
  async heartbeat(busyRound: number): Promise<{ serverTimeMs: number }> {
    this.check();
    return this.service.heartbeat(this.caller, busyRound);
  }

  /** Closes the link. */
  close(): void {
    this.closed = true;
  }
}

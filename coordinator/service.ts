import type { FederationService } from '../proto/api.ts';
import { RpcError } from '../proto/errors.ts';
import type { Caller, PushReply, ReceivedResult, RegisterReply, Registration, Task } from '../proto/types.ts';
import { isSiteId, tokenMatches } from './auth.ts';
import type { ContentStore } from './checkpoints.ts';
import type { RoundEngine } from './rounds.ts';
import type { StateStore } from './store.ts';

/** How often sites are asked to send a heartbeat while they train. */
export const HEARTBEAT_MS = 5_000;

/**
 * The coordinator's federation service: authenticates every call against the sites'
 * hashed tokens (and, under mutual TLS, the certificate's common name), writes the
 * audit log, and hands tasks and results to the round engine.
 */
export class CoordinatorService implements FederationService {
  constructor(
    private readonly runId: string,
    private readonly store: StateStore,
    private readonly content: ContentStore,
    private readonly engine: RoundEngine,
    private readonly now: () => number = Date.now,
    private readonly longPollMs = 0,
  ) {}

  /** Throws UNAUTHENTICATED, with an audit entry, unless the caller is a known site with its token. */
  async authenticate(c: Caller): Promise<void> {
    const id = isSiteId(c.siteId) ? c.siteId : `(invalid id ${JSON.stringify(c.siteId.slice(0, 40))})`;
    const site = isSiteId(c.siteId) ? this.store.site(c.siteId) : null;
    let reason: string | null = null;
    if (!site) reason = 'unknown site';
    else if (!c.token || !tokenMatches(site.tokenHash, c.token)) reason = 'bad token';
    else if (c.certCommonName !== undefined && c.certCommonName !== c.siteId) reason = `certificate is for '${c.certCommonName}'`;
    if (reason) {
      this.store.audit(id, 'unauthenticated', reason, this.now());
      throw new RpcError('UNAUTHENTICATED', `site ${id}: ${reason}`);
    }
  }

  private async enter(c: Caller): Promise<void> {
    await this.authenticate(c);
    this.store.touchSite(c.siteId, this.now());
  }

  /** Records a site's registration. */
  async register(c: Caller, reg: Registration): Promise<RegisterReply> {
    await this.authenticate(c);
    const now = this.now();
    this.store.transaction(() => {
      this.store.registerSite(c.siteId, reg.datasetSize, reg.capabilities, now);
      this.store.audit(c.siteId, 'register', `${reg.datasetSize} examples; ${JSON.stringify(reg.capabilities)}`, now);
    });
    void this.engine.tick();
    return { runId: this.runId, heartbeatMs: HEARTBEAT_MS };
  }

  /** Sites that have been told the run is done. */
  readonly toldDone = new Set<string>();

  /**
   * The site's next task. A long poll: while there is nothing to do, the call waits (up to
   * `longPollMs`) for the run to change, so a site hears of a new round at once.
   */
  async pullTask(c: Caller): Promise<Task> {
    await this.enter(c);
    const until = Date.now() + this.longPollMs;
    for (;;) {
      const task = await this.engine.taskFor(c.siteId);
      const left = until - Date.now();
      if (task.kind !== 'wait' || left <= 0) {
        if (task.kind === 'done') this.toldDone.add(c.siteId);
        return task;
      }
      await this.engine.changed(left);
    }
  }

  /** A global model's bytes (only models this run published: the initial one and round outputs). */
  async fetchModel(c: Caller, sha256: string): Promise<Uint8Array> {
    await this.enter(c);
    const published = this.engine.publishedModels();
    if (!published.has(sha256)) throw new RpcError('NOT_FOUND', `no global model ${sha256}`);
    const bytes = await this.content.get(sha256);
    this.store.audit(c.siteId, 'fetch', `model ${sha256} (${bytes.length} bytes)`, this.now());
    return bytes;
  }

  /** A site's result. */
  async pushResult(c: Caller, r: ReceivedResult): Promise<PushReply> {
    await this.enter(c);
    return this.engine.receive(c.siteId, r);
  }

  /** Notes that the site is alive. */
  async heartbeat(c: Caller, _busyRound: number): Promise<{ serverTimeMs: number }> {
    await this.enter(c);
    return { serverTimeMs: this.now() };
  }
}

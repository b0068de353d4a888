import { readFileSync, statSync } from 'node:fs';
import { UserError } from '../core/errors.ts';
import { info } from '../core/log.ts';
import { serverCredentials, type ServerTls } from '../proto/credentials.ts';
import { serveFederation } from '../proto/grpc-server.ts';
import type { CoordinatorConfig } from './config.ts';
import { openCoordinator, type Coordinator } from './coordinator.ts';
import type { RoundSummary } from './rounds.ts';

/** After the last round, how long the coordinator keeps answering "done" to sites that have not heard it yet. */
export const DONE_GRACE_MS = 15_000;

/** A coordinator serving gRPC. */
export interface RunningCoordinator {
  coordinator: Coordinator;
  port: number;
  /** Resolves with the rounds' summaries once the run is finished and every live site was told so (or the grace ran out). */
  finished: Promise<RoundSummary[]>;
  /** Stops serving and closes the state. */
  stop(): Promise<void>;
}

function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new UserError(`cannot read the ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** The server's TLS material from the config, or 'insecure' (loopback only, checked when credentials are made). */
export function serverTls(config: CoordinatorConfig): ServerTls | 'insecure' {
  if (!config.tls) return 'insecure';
  return { ca: readPem(config.tls.ca, 'CA certificate'), cert: readPem(config.tls.cert, 'certificate'), key: readPem(config.tls.key, 'private key'), requireClientCert: config.tls.requireClientCert };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Opens (or resumes) the run and serves it over gRPC on `config.listen`. */
export async function startCoordinator(config: CoordinatorConfig, tokens: Map<string, string>): Promise<RunningCoordinator> {
  const tls = serverTls(config);
  const credentials = serverCredentials(config.listen.host, tls);
  const coordinator = await openCoordinator(config, tokens);
  let server;
  try {
    // an update is the model's size (weights or a delta): refuse larger streams before buffering them
    const maxPayloadBytes = Math.max(16 * 1024 * 1024, 2 * statSync(config.model.initialWeights).size);
    server = await serveFederation(coordinator.service, { host: config.listen.host, port: config.listen.port, credentials, maxPayloadBytes });
  } catch (e) {
    coordinator.close();
    throw new UserError(`cannot listen on ${config.listen.host}:${config.listen.port}: ${(e as Error).message}`);
  }
  info(`coordinator: listening on ${config.listen.host}:${server.port} (${tls === 'insecure' ? 'plain text, loopback' : tls.requireClientCert ? 'mutual TLS' : 'TLS'})`);
  const finished = coordinator.finished.then(async (summaries) => {
    const live = coordinator.store.sitesSeenSince(Date.now() - config.deadlines.siteTimeoutSeconds * 1000);
    const until = Date.now() + DONE_GRACE_MS;
    while (Date.now() < until && live.some((s) => !coordinator.service.toldDone.has(s))) await sleep(50);
    return summaries;
  });
  let stopped = false;
  return {
    coordinator,
    port: server.port,
    finished,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await server.stop();
      coordinator.close();
    },
  };
}

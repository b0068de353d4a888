import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { UserError } from '../core/errors.ts';
import { CALIBRATION_METHODS } from '../quantize/calibration/methods.ts';
import { pruneSettingsSchema } from '../prune/federated.ts';

/** How sites weigh in the mean (strategies/index.ts SiteWeighting): by examples (default) or alike. */
const weighting = z.enum(['examples', 'sites']).optional();

/** The `strategy:` block of a federation config (fed.yaml; sim.yaml's `federated.strategy` too). */
export const strategySchema = z.discriminatedUnion('name', [
  z.object({ name: z.literal('fedavg'), weighting }).strict(),
  z.object({ name: z.literal('fedprox'), mu: z.number().min(0), weighting }).strict(),
  z
    .object({
      name: z.enum(['fedadam', 'fedyogi']),
      weighting,
      eta: z.number().positive().optional(),
      beta1: z.number().min(0).lt(1).optional(),
      beta2: z.number().min(0).lt(1).optional(),
      tau: z.number().positive().optional(),
    })
    .strict(),
]);

const tlsSchema = z
  .object({
    ca: z.string().min(1),
    cert: z.string().min(1),
    key: z.string().min(1),
    requireClientCert: z.boolean().default(true),
  })
  .strict();

/** How many calibration deadlines without an answer end in a skipped calibration, unless configured. */
export const DEFAULT_MAX_MISSED_DEADLINES = 3;

/**
 * Federated INT8 calibration of the final model (issue 7 §2): after the last round the sites
 * compute activation statistics on their own images (ranges, then histograms over fixed edges
 * unless minmax) and the coordinator writes the INT8 student with its precision report.
 */
export const quantizeSettingsSchema = z
  .object({
    method: z.enum(CALIBRATION_METHODS as unknown as ['minmax', 'percentile', 'entropy']).default('percentile'),
    percentile: z.number().min(50).max(100).optional(),
    bins: z.number().int().min(8).max(65_536).optional(),
    /** Timed runs per latency figure of the report (median). */
    latencyRuns: z.number().int().positive().default(7),
    /**
     * Deadlines (`deadlines.roundSeconds` each) a calibration phase may pass without a single
     * answer before calibration is skipped and the run ends with its FP32 model only.
     */
    maxMissedDeadlines: z.number().int().positive().default(DEFAULT_MAX_MISSED_DEADLINES),
  })
  .strict();

/** The `quantize` block, validated. */
export type QuantizeSettings = z.infer<typeof quantizeSettingsSchema>;

/**
 * The coordinator's config file (YAML or JSON). Secrets never go in it: site tokens come
 * from `tokensFile` or the FEDKD_TOKENS environment variable, and are stored hashed.
 */
export const coordinatorConfigSchema = z
  .object({
    seed: z.number().int().default(0),
    listen: z.object({ host: z.string().default('127.0.0.1'), port: z.number().int().min(0).max(65535).default(50051) }).strict().default({ host: '127.0.0.1', port: 50051 }),
    /** TLS material; without it the coordinator needs `insecure: true` and a loopback host. */
    tls: tlsSchema.optional(),
    insecure: z.boolean().default(false),
    stateDir: z.string().min(1).default('.fedkd/coordinator'),
    tokensFile: z.string().min(1).optional(),
    model: z.object({ initialWeights: z.string().min(1) }).strict(),
    rounds: z.number().int().positive(),
    sampling: z
      .object({
        fraction: z.number().gt(0).max(1).default(1),
        minSites: z.number().int().positive().default(2),
        minResults: z.number().int().positive().default(2),
      })
      .strict()
      .default({ fraction: 1, minSites: 2, minResults: 2 }),
    deadlines: z
      .object({
        roundSeconds: z.number().positive().default(600),
        evaluateSeconds: z.number().positive().default(300),
        siteTimeoutSeconds: z.number().positive().default(60),
      })
      .strict()
      .default({ roundSeconds: 600, evaluateSeconds: 300, siteTimeoutSeconds: 60 }),
    strategy: strategySchema.default({ name: 'fedavg' }),
    /** Sent to the sites with every train task; `localEpochs` is E. Other keys pass through. */
    training: z.object({ localEpochs: z.number().int().positive().default(3) }).catchall(z.union([z.number(), z.string(), z.boolean()])).default({ localEpochs: 3 }),
    validation: z.object({ maxUpdateNorm: z.number().positive().optional() }).strict().default({}),
    evaluate: z.boolean().default(true),
    /** Federated calibration and the INT8 student after the last round (absent: none). */
    quantize: quantizeSettingsSchema.optional(),
    /** Federated channel pruning (issue 6 §3): masks computed after the rounds in `atRounds`. */
    pruning: pruneSettingsSchema.optional(),
    /** How long a waiting site sleeps before it asks again. */
    pollMs: z.number().int().positive().default(500),
    /** How long a task request waits for the run to change before answering "wait" (0: answer at once). */
    longPollMs: z.number().int().min(0).max(25_000).default(10_000),
  })
  .strict()
  .refine((c) => c.sampling.minResults <= c.sampling.minSites, { message: 'must not exceed sampling.minSites', path: ['sampling', 'minResults'] })
  .refine((c) => c.tls !== undefined || c.insecure, { message: 'give tls (ca, cert, key) or set insecure: true (loopback only)', path: ['tls'] });

/** A validated coordinator config, paths resolved against the config file's folder. */
export type CoordinatorConfig = z.infer<typeof coordinatorConfigSchema>;

/** Validates a parsed config object; the error names the bad field. */
export function parseCoordinatorConfig(raw: unknown, source = 'config'): CoordinatorConfig {
  const r = coordinatorConfigSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    const field = issue.path.length ? issue.path.join('.') : '(top level)';
    throw new UserError(`${source}: ${field}: ${issue.message}`);
  }
  return r.data;
}

/** Reads, parses (YAML or JSON) and validates a config file; relative paths become relative to its folder. */
export function loadCoordinatorConfig(file: string): CoordinatorConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read config ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = YAML.parse(text);
  } catch (e) {
    throw new UserError(`${file}: not valid YAML/JSON: ${(e as Error).message.split('\n')[0]}`);
  }
  const c = parseCoordinatorConfig(raw, file);
  const dir = path.dirname(path.resolve(file));
  const abs = (p: string): string => path.resolve(dir, p);
  return {
    ...c,
    stateDir: abs(c.stateDir),
    tokensFile: c.tokensFile ? abs(c.tokensFile) : undefined,
    model: { initialWeights: abs(c.model.initialWeights) },
    tls: c.tls ? { ...c.tls, ca: abs(c.tls.ca), cert: abs(c.tls.cert), key: abs(c.tls.key) } : undefined,
  };
}

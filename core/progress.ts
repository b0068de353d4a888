import cliProgress from 'cli-progress';

/** A progress bar over `total` steps with ETA and a live status text; silent when stderr is not a TTY unless forced. */
export interface Progress {
  tick(n?: number, status?: string): void;
  stop(): void;
}

/** Starts a progress bar on stderr. `FEDKD_PROGRESS=0` silences it; `=1` forces it. */
export function progressBar(label: string, total: number): Progress {
  const env = process.env.FEDKD_PROGRESS;
  const on = env === '1' || (env !== '0' && Boolean(process.stderr.isTTY));
  if (!on) return { tick() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% | {value}/{total} | ETA {eta_formatted} | {status}`,
      hideCursor: true,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { status: '' });
  let value = 0;
  return {
    tick(n = 1, status = '') {
      value += n;
      bar.update(value, { status });
    },
    stop() {
      bar.stop();
    },
  };
}

import { spawnSync } from 'node:child_process';

/**
 * A Python interpreter that can `import onnx` (pyenv shims may hide Debian's python3-onnx), or
 * undefined, where the tests skip only their onnx.checker step. With FEDKD_REQUIRE_ONNX_CHECKER=1
 * (set by .ci/run, which installs python3-onnx) a missing checker fails the test instead.
 */
export function pythonWithOnnx(): string | undefined {
  for (const py of ['python3', '/usr/bin/python3']) {
    const r = spawnSync(py, ['-c', 'import onnx'], { encoding: 'utf8', timeout: 60_000 });
    if (r.status === 0) return py;
  }
  if (process.env.FEDKD_REQUIRE_ONNX_CHECKER === '1') throw new Error('FEDKD_REQUIRE_ONNX_CHECKER=1 but no python3 here can import onnx (apt-get install python3-onnx)');
  return undefined;
}

/** Runs onnx.checker.check_model (full check, with shape inference) on each file; returns stderr of failures. */
export function onnxCheck(py: string, files: string[]): { ok: boolean; output: string } {
  const script = 'import sys, onnx\nfor f in sys.argv[1:]:\n    onnx.checker.check_model(onnx.load(f), full_check=True)\nprint("ok", len(sys.argv) - 1)';
  const r = spawnSync(py, ['-c', script, ...files], { encoding: 'utf8', timeout: 120_000 });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

import { spawnSync } from 'node:child_process';

/** A Python interpreter that can `import onnx` (pyenv shims may hide Debian's python3-onnx), or undefined. */
export function pythonWithOnnx(): string | undefined {
  for (const py of ['python3', '/usr/bin/python3']) {
    const r = spawnSync(py, ['-c', 'import onnx'], { encoding: 'utf8', timeout: 60_000 });
    if (r.status === 0) return py;
  }
  return undefined;
}

/** Runs onnx.checker.check_model (full check, with shape inference) on each file; returns stderr of failures. */
export function onnxCheck(py: string, files: string[]): { ok: boolean; output: string } {
  const script = 'import sys, onnx\nfor f in sys.argv[1:]:\n    onnx.checker.check_model(onnx.load(f), full_check=True)\nprint("ok", len(sys.argv) - 1)';
  const r = spawnSync(py, ['-c', script, ...files], { encoding: 'utf8', timeout: 120_000 });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

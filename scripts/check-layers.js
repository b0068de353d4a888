#!/usr/bin/env node
// Checks the import rules of docs/ARCHITECTURE.md (after ../shared/DESIGN.md): a folder imports only
// the folders it is allowed to, coordinator/ and client/ never import each other, and no import cycles.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const ALLOWED = {
  core: [],
  engine: ['core'],
  runtime: ['core'],
  proto: ['core'],
  data: ['core'],
  models: ['core', 'engine'],
  prune: ['core', 'engine', 'models'],
  distill: ['core', 'engine', 'models', 'data', 'runtime'],
  train: ['core', 'engine', 'models', 'data', 'distill', 'prune'],
  quantize: ['core', 'models', 'runtime', 'engine'],
  coordinator: ['core', 'proto', 'models', 'prune', 'quantize', 'engine', 'runtime'],
  client: ['core', 'proto', 'data', 'distill', 'train', 'engine', 'models', 'runtime', 'prune', 'quantize'],
  cli: null,
  test: null,
  bench: null,
};

const root = process.cwd();
const files = [];
function walk(d) {
  for (const f of readdirSync(d)) {
    const p = path.join(d, f);
    if (statSync(p).isDirectory()) walk(p);
    else if (/\.(ts|js)$/.test(f)) files.push(p);
  }
}
for (const top of Object.keys(ALLOWED)) {
  try { walk(path.join(root, top)); } catch { /* folder not created yet */ }
}

const problems = [];
const graph = new Map();
const importRe = /(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g;
for (const f of files) {
  const rel = path.relative(root, f);
  const top = rel.split(path.sep)[0];
  const src = readFileSync(f, 'utf8');
  const deps = [];
  for (const m of src.matchAll(importRe)) {
    const spec = m[1] ?? m[2];
    const target = path.relative(root, path.resolve(path.dirname(f), spec));
    const ttop = target.split(path.sep)[0];
    deps.push(target);
    const allowed = ALLOWED[top];
    if (ttop !== top && allowed && !allowed.includes(ttop)) problems.push(`${rel} imports ${target}: ${top}/ may not import ${ttop}/`);
  }
  graph.set(rel, deps);
}

const state = new Map();
function visit(n, stack) {
  if (state.get(n) === 2) return;
  if (state.get(n) === 1) { problems.push(`import cycle: ${[...stack.slice(stack.indexOf(n)), n].join(' -> ')}`); return; }
  state.set(n, 1);
  for (const d of graph.get(n) ?? []) if (graph.has(d)) visit(d, [...stack, n]);
  state.set(n, 2);
}
for (const n of graph.keys()) visit(n, []);

if (problems.length) {
  for (const p of problems) console.error(p);
  process.exit(1);
}
console.log(`layers ok: ${files.length} files`);

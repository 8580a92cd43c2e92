// The layers of src/ point one way (docs/architecture.md, "Layers"): this test
// reads every import in src/ (type-only imports included: a type is a
// dependency too) and fails on an import against the layer order, on a cycle
// between folders, on a folder the order does not place, and on policy/
// reaching for anything that could do I/O; and on a signed-in session started
// anywhere but the one sign-in sequence.

import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = join(dirname(fileURLToPath(import.meta.url)), '../../src');

/** Top to bottom; a unit may import its own layer's other units (no cycle) and any layer below. */
const LAYERS: readonly (readonly string[])[] = [
  ['cli'],
  ['cluster'], // server.workers: the primary and its workers, over the app
  ['app'], // src/app.ts: the wiring
  ['http'], // the pipeline
  ['ui'], // the pages, registered in the route table http looks up
  ['web'], // what the pipeline and the pages share about one request
  ['session'],
  ['factors'],
  ['identity'],
  ['policy', 'proxy', 'store', 'audit'],
  ['config'],
];

/** Packages policy/ may use: it decides, it never reads, writes or connects. */
const POLICY_PACKAGES = new Set(['node:net']); // BlockList and isIP: address arithmetic, no sockets

interface Edge { from: string; to: string; file: string; spec: string }

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'";]*?\bfrom\s+['"]([^'"]+)['"]|(?:^|\n)\s*import\s+['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

/** Every module specifier a source file names (static, re-exports, side-effect and dynamic imports). */
function specifiers(source: string): string[] {
  const text = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"])\/\/[^\n]*/g, '$1');
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT)) out.push(m[1] ?? m[2] ?? m[3]);
  return out;
}

/** The unit a src/ file belongs to: its top folder, or its name for a file directly in src/. */
function unitOf(relPath: string): string {
  const parts = relPath.split(sep);
  return parts.length > 1 ? parts[0] : parts[0].replace(/\.ts$/, '');
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => join(dir, f));
}

function readEdges(): { edges: Edge[]; packages: Edge[]; units: Set<string> } {
  const edges: Edge[] = [];
  const packages: Edge[] = [];
  const units = new Set<string>();
  for (const file of sourceFiles(SRC)) {
    const rel = relative(SRC, file);
    const from = unitOf(rel);
    units.add(from);
    for (const spec of specifiers(readFileSync(file, 'utf8'))) {
      if (!spec.startsWith('.')) {
        packages.push({ from, to: spec, file: rel, spec });
        continue;
      }
      const target = relative(SRC, normalize(join(dirname(file), spec)));
      if (target.startsWith('..')) continue; // outside src/ (the demo portal the demo command starts)
      const to = unitOf(target);
      if (to !== from) edges.push({ from, to, file: rel, spec });
    }
  }
  return { edges, packages, units };
}

function rankOf(unit: string): number {
  return LAYERS.findIndex((layer) => layer.includes(unit));
}

/** Imports that point up the layer order (or from/to a unit the order does not place). */
function againstOrder(edges: readonly Edge[]): Edge[] {
  return edges.filter((e) => rankOf(e.from) === -1 || rankOf(e.to) === -1 || rankOf(e.to) < rankOf(e.from));
}

/** The cycles between units, each as the units around it (empty when the unit graph is acyclic). */
function cycles(edges: readonly Edge[]): string[][] {
  const next = new Map<string, Set<string>>();
  for (const e of edges) {
    if (!next.has(e.from)) next.set(e.from, new Set());
    next.get(e.from)!.add(e.to);
  }
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (u: string): void => {
    state.set(u, 'open');
    path.push(u);
    for (const v of next.get(u) ?? []) {
      if (state.get(v) === 'open') found.push([...path.slice(path.indexOf(v)), v]);
      else if (!state.has(v)) visit(v);
    }
    path.pop();
    state.set(u, 'done');
  };
  for (const u of [...next.keys()].sort()) if (!state.has(u)) visit(u);
  return found;
}

function describe(e: Edge): string {
  return `${e.file} imports ${e.spec} (${e.from} -> ${e.to})`;
}

t.test('the checker itself finds what it must', async (t) => {
  t.same(specifiers(`import a from './a.ts';\nimport type { B } from "../b/b.ts";\nexport { c } from './c.ts';\nimport './d.ts';\nconst e = await import('./e.ts');\n// import x from './commented.ts';`),
    ['./a.ts', '../b/b.ts', './c.ts', './d.ts', './e.ts'], 'static, type-only, re-export, side-effect and dynamic imports; not comments');
  t.equal(unitOf(`http${sep}gateway.ts`), 'http');
  t.equal(unitOf('app.ts'), 'app');
  const up: Edge = { from: 'ui', to: 'http', file: 'ui/x.ts', spec: '../http/y.ts' };
  const down: Edge = { from: 'http', to: 'ui', file: 'http/y.ts', spec: '../ui/x.ts' };
  t.same(againstOrder([up, down]), [up], 'an import up the order is reported, one down is not');
  t.same(againstOrder([{ from: 'helpers', to: 'config', file: 'helpers/h.ts', spec: '../config/c.ts' }]).length, 1, 'a folder the order does not place is reported');
  t.same(cycles([up, down]), [['http', 'ui', 'http']], 'a cycle between two folders is found');
  t.same(cycles([down, { from: 'ui', to: 'web', file: 'ui/x.ts', spec: '../web/z.ts' }]), [], 'a chain is no cycle');
});

t.test('src/ imports follow the layer order', async (t) => {
  const { edges, packages, units } = readEdges();
  // The reading works: the pipeline's known imports are seen.
  t.ok(edges.some((e) => e.file === join('http', 'gateway.ts') && e.to === 'policy'), 'http/gateway.ts is seen importing policy/');
  t.ok(edges.some((e) => e.from === 'app' && e.to === 'http'), 'src/app.ts is seen importing http/');
  t.ok(edges.length > 200, `${edges.length} imports between folders read`);

  t.same([...units].filter((u) => rankOf(u) === -1), [], 'every folder of src/ has a place in the layer order');
  t.same(againstOrder(edges).map(describe), [], 'no import points up the layer order');
  t.same(cycles(edges).map((c) => c.join(' -> ')), [], 'no cycle between folders');
  const impure = packages.filter((p) => p.from === 'policy' && !POLICY_PACKAGES.has(p.spec));
  t.same(impure.map(describe), [], 'policy/ imports nothing that could do I/O');
  t.same(edges.filter((e) => e.from === 'policy' && e.to !== 'config').map(describe), [], 'policy/ imports only config/');
});

t.test('one sign-in sequence: only session/sign-in.ts starts a signed-in session', async (t) => {
  const makers = sourceFiles(SRC)
    .filter((f) => /\bsignedInSession\(|write\(\{ event: 'signin\.success'/.test(readFileSync(f, 'utf8')))
    .map((f) => relative(SRC, f))
    .filter((f) => f !== join('session', 'session-data.ts'));
  // The break-glass account is the one exception: an emergency session with no second factor, audited as breakglass.used.
  t.same(makers.sort(), [join('session', 'sign-in.ts'), join('ui', 'break-glass.ts')].sort(), 'password, OIDC and upstream_form sign-ins all end in signIn');
});

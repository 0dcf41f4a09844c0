/**
 * Dependency-direction checker for src/ (docs: /work/shared/design/architecture.md §6-7).
 * It uses the TypeScript parser we already depend on, so type-only imports, re-exports and dynamic
 * imports are all seen, and comments or strings never produce false hits.
 *
 * Usage: node dist/scripts/check-layers.js [SRC_DIR]   (exit 1 and a list when a rule is broken)
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

/** The layer order: each may import those to its left, never those to its right. */
export const LAYER_ORDER = ['sip', 'transport', 'transaction', 'dialog', 'subscription', 'core', 'packages'] as const;

export type LayerRule =
  | 'upward-import'
  | 'store-adapter-import'
  | 'package-imports-package'
  | 'imports-server-or-cli'
  | 'impure-sip'
  | 'sql-driver-outside-adapter';

export interface Violation {
  /** Path relative to the scanned src directory, with forward slashes. */
  file: string;
  line: number;
  specifier: string;
  rule: LayerRule;
  message: string;
}

const SQL_DRIVERS = new Set(['better-sqlite3', 'pg', 'pg-pool', 'pg-native', 'postgres', 'sqlite3', 'node:sqlite']);
const SIP_FORBIDDEN_MODULES = new Set([
  'net',
  'node:net',
  'dgram',
  'node:dgram',
  'timers',
  'node:timers',
  'timers/promises',
  'node:timers/promises',
  'pino',
]);
const SIP_FORBIDDEN_CALLS = new Set(['setTimeout', 'setInterval', 'setImmediate', 'queueMicrotask']);

interface ImportRef {
  specifier: string;
  line: number;
}

interface ClockRef {
  what: string;
  line: number;
}

function listTsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listTsFiles(full));
    else if (entry.isFile() && entry.name.endsWith('.ts')) out.push(full);
  }
  return out.sort();
}

function scan(file: string): { imports: ImportRef[]; clock: ClockRef[] } {
  const text = readFileSync(file, 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const imports: ImportRef[] = [];
  const clock: ClockRef[] = [];
  const lineOf = (node: ts.Node): number => sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
  const addSpec = (node: ts.Node | undefined): void => {
    if (node && ts.isStringLiteralLike(node)) imports.push({ specifier: node.text, line: lineOf(node) });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) {
      addSpec(node.moduleSpecifier);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      addSpec(node.moduleReference.expression);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      addSpec(node.argument.literal);
    } else if (ts.isCallExpression(node)) {
      const callee = node.expression;
      if (callee.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(callee) && callee.text === 'require')) {
        addSpec(node.arguments[0]);
      } else if (ts.isIdentifier(callee) && SIP_FORBIDDEN_CALLS.has(callee.text)) {
        clock.push({ what: `${callee.text}()`, line: lineOf(node) });
      } else if (
        ts.isPropertyAccessExpression(callee) &&
        ts.isIdentifier(callee.expression) &&
        ((callee.expression.text === 'Date' && callee.name.text === 'now') ||
          (callee.expression.text === 'globalThis' && SIP_FORBIDDEN_CALLS.has(callee.name.text)) ||
          (callee.expression.text === 'performance' && callee.name.text === 'now'))
      ) {
        clock.push({ what: `${callee.expression.text}.${callee.name.text}()`, line: lineOf(node) });
      }
    } else if (
      ts.isNewExpression(node) &&
      ts.isIdentifier(node.expression) &&
      node.expression.text === 'Date' &&
      (node.arguments === undefined || node.arguments.length === 0)
    ) {
      clock.push({ what: 'new Date()', line: lineOf(node) });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return { imports, clock };
}

/** Position of a file inside src: its top folder and the parts below it. */
interface Place {
  parts: string[];
  folder: string;
}

function placeOf(srcDir: string, file: string): Place | undefined {
  const rel = relative(srcDir, file);
  if (rel === '' || rel.startsWith('..')) return undefined;
  const parts = rel.split(sep);
  return { parts, folder: parts.length > 1 ? parts[0]! : '' };
}

/** store/<adapter>/... (a folder under store/, as opposed to store/store.ts). */
const storeAdapter = (p: Place): string | undefined =>
  p.folder === 'store' && p.parts.length > 2 ? p.parts[1] : undefined;

/** packages/<name>/... */
const packageName = (p: Place): string | undefined =>
  p.folder === 'packages' && p.parts.length > 2 ? p.parts[1] : undefined;

function layerIndex(folder: string): number {
  return (LAYER_ORDER as readonly string[]).indexOf(folder);
}

/** Checks every .ts file under srcDir and returns the broken rules, in file order. */
export function checkLayers(srcDir: string): Violation[] {
  const root = resolve(srcDir);
  const violations: Violation[] = [];
  for (const file of listTsFiles(root)) {
    const from = placeOf(root, file);
    if (!from) continue;
    const fileName = from.parts.join('/');
    const { imports, clock } = scan(file);
    const report = (ref: { line: number }, specifier: string, rule: LayerRule, message: string): void => {
      violations.push({ file: fileName, line: ref.line, specifier, rule, message });
    };

    if (from.folder === 'sip') {
      for (const c of clock) {
        report(c, c.what, 'impure-sip', `src/sip is pure: it may not read the clock or schedule (${c.what}); inject a Clock`);
      }
    }

    for (const ref of imports) {
      const spec = ref.specifier;
      if (!spec.startsWith('.')) {
        if (SQL_DRIVERS.has(spec) && storeAdapter(from) === undefined) {
          report(ref, spec, 'sql-driver-outside-adapter', `SQL driver "${spec}" may only be imported in src/store/<adapter>/`);
        }
        if (from.folder === 'sip' && SIP_FORBIDDEN_MODULES.has(spec)) {
          report(ref, spec, 'impure-sip', `src/sip is pure: no sockets, timers or logging ("${spec}")`);
        }
        continue;
      }
      const target = placeOf(root, resolve(dirname(file), spec));
      if (!target) continue;
      const sameFolder = target.folder === from.folder;

      const a = layerIndex(from.folder);
      const b = layerIndex(target.folder);
      if (!sameFolder && a >= 0 && b > a) {
        report(
          ref,
          spec,
          'upward-import',
          `${from.folder}/ may not import ${target.folder}/ (layer order: ${LAYER_ORDER.join(' <- ')})`,
        );
      }

      if (storeAdapter(target) !== undefined && from.folder !== 'store' && from.folder !== 'server') {
        report(
          ref,
          spec,
          'store-adapter-import',
          `store/${storeAdapter(target)}/ is an adapter: only server/ picks one; depend on store/store.ts`,
        );
      }

      const fromPkg = packageName(from);
      const toPkg = packageName(target);
      if (fromPkg !== undefined && toPkg !== undefined && fromPkg !== toPkg && toPkg !== 'shared') {
        report(ref, spec, 'package-imports-package', `packages/${fromPkg}/ may not import packages/${toPkg}/ (only packages/shared/)`);
      }

      if (target.folder === 'cli' && from.folder !== 'cli') {
        report(ref, spec, 'imports-server-or-cli', 'nothing may import cli/');
      } else if (target.folder === 'server' && from.folder !== 'server' && from.folder !== 'cli') {
        report(ref, spec, 'imports-server-or-cli', 'only cli/ may import server/ (the composition root)');
      }

      if (from.folder === 'sip' && target.folder === 'observability') {
        report(ref, spec, 'impure-sip', 'src/sip is pure: no logging');
      }
    }
  }
  return violations.sort((x, y) => (x.file === y.file ? x.line - y.line : x.file < y.file ? -1 : 1));
}

export function formatViolations(violations: readonly Violation[]): string {
  return violations.map((v) => `  src/${v.file}:${v.line}  ${v.specifier}\n    [${v.rule}] ${v.message}`).join('\n');
}

function defaultSrcDir(): string {
  // Works from scripts/ (tsx) and dist/scripts/ (tsc): the nearest ancestor holding package.json and src/.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'src')) && statSync(join(dir, 'src')).isDirectory()) {
      return join(dir, 'src');
    }
    const parent = dirname(dir);
    if (parent === dir) return resolve('src');
    dir = parent;
  }
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (invokedDirectly) {
  const srcDir = process.argv[2] ?? defaultSrcDir();
  const violations = checkLayers(srcDir);
  if (violations.length > 0) {
    process.stderr.write(`check-layers: ${violations.length} violation(s) in ${srcDir}\n${formatViolations(violations)}\n`);
    process.exit(1);
  }
  process.stdout.write(`check-layers: ${srcDir}: no violations\n`);
}

import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isMap, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { ConfigError, didYouMean, formatPath, showValue } from './errors.js';
import { configKeys, configSchema, ENV_PREFIX, type ConfigKey, type PresencedConfig, type StringKind } from './schema.js';

/** A command-line flag, as documented by --help. */
export interface FlagDoc {
  name: string;
  short?: string;
  /** Placeholder for the value; absent for boolean flags. */
  arg?: string;
  multiple?: boolean;
  /** Configuration key the flag sets, if any (its env variable and default come from there). */
  key?: string;
  /** Environment variable, for flags that are not configuration keys. */
  env?: string;
  description: string;
}

const FLAGS: readonly FlagDoc[] = [
  { name: 'config', arg: 'FILE', env: `${ENV_PREFIX}CONFIG`, description: 'YAML configuration file.' },
  {
    name: 'listen',
    arg: 'TRANSPORT:HOST:PORT',
    multiple: true,
    key: 'listen',
    description: 'SIP listener, udp or tcp (IPv6 as udp:[::1]:5060). Repeatable; replaces the default list.',
  },
  { name: 'db', arg: 'URL', key: 'db', description: 'Storage: sqlite:PATH (postgres://... is not yet available).' },
  { name: 'http', arg: 'HOST:PORT|off', key: 'http', description: 'HTTP API listener, or off.' },
  { name: 'domain', arg: 'DOMAIN', key: 'domain', description: 'SIP domain served (default: any).' },
  { name: 'log-level', arg: 'LEVEL', key: 'logLevel', description: 'fatal, error, warn, info, debug or trace.' },
  {
    name: 'auth',
    arg: 'MODE',
    key: 'auth.mode',
    description: 'Digest authentication: auto (required once users exist), on, or off (open mode, whatever the users).',
  },
  {
    name: 'set',
    arg: 'KEY=VALUE',
    multiple: true,
    description: 'Set any configuration key (see below). Repeatable; lists are comma-separated.',
  },
  { name: 'help', short: 'h', description: 'Print this help and exit.' },
  { name: 'version', short: 'v', description: 'Print the version and exit.' },
];

/** The flags the server command accepts, for --help. */
export function cliFlags(): readonly FlagDoc[] {
  return FLAGS;
}

/** Parsed command line of the server command. */
export interface CliFlags {
  config?: string;
  listen?: string[];
  db?: string;
  http?: string;
  domain?: string;
  logLevel?: string;
  auth?: string;
  set: string[];
  help: boolean;
  version: boolean;
}

type ParseArgsOptions = NonNullable<Parameters<typeof parseArgs>[0]>['options'];

function parseArgsOptions(): ParseArgsOptions {
  const options: NonNullable<ParseArgsOptions> = {};
  for (const f of FLAGS) {
    options[f.name] = {
      type: f.arg === undefined ? 'boolean' : 'string',
      ...(f.multiple ? { multiple: true } : {}),
      ...(f.short !== undefined ? { short: f.short } : {}),
    };
  }
  return options;
}

/**
 * Parses the server command's flags (strict: unknown flags and stray arguments are errors).
 * Kept separate from loadConfig so --help and --version work even when the configuration is broken.
 */
export function parseFlags(argv: readonly string[]): CliFlags {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options: parseArgsOptions(), strict: true, allowPositionals: false });
  } catch (err) {
    throw flagError(err);
  }
  const v = parsed.values as Record<string, string | boolean | string[] | undefined>;
  const str = (name: string): string | undefined => (typeof v[name] === 'string' ? (v[name] as string) : undefined);
  const list = (name: string): string[] | undefined => (Array.isArray(v[name]) ? (v[name] as string[]) : undefined);
  const flags: CliFlags = { set: list('set') ?? [], help: v['help'] === true, version: v['version'] === true };
  const assign = <K extends keyof CliFlags>(key: K, value: CliFlags[K] | undefined): void => {
    if (value !== undefined) flags[key] = value;
  };
  assign('config', str('config'));
  assign('listen', list('listen'));
  assign('db', str('db'));
  assign('http', str('http'));
  assign('domain', str('domain'));
  assign('logLevel', str('log-level'));
  assign('auth', str('auth'));
  return flags;
}

function flagError(err: unknown): ConfigError {
  const e = err as { code?: unknown; message?: unknown };
  const message = typeof e.message === 'string' ? e.message : String(err);
  // parseArgs appends advice about '--' that does not apply to us: keep the first sentence.
  const first = message.split(/\.\s/)[0]!.replace(/\.$/, '');
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const m = /'(-{1,2}[^'=]+)/.exec(first);
    const known = FLAGS.map((f) => `--${f.name}`);
    return new ConfigError(`${first}${m ? didYouMean(m[1]!, known) : ''}; see --help`);
  }
  if (e.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') return new ConfigError(`${first}; see --help`);
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') return new ConfigError(`${first}; see --help`);
  return new ConfigError(first);
}

/** Reads a string from the environment or `--set` into the type its key expects. */
function fromString(kind: StringKind, raw: string): unknown {
  const text = raw.trim();
  switch (kind) {
    case 'number':
      // Non-numbers stay strings so that validation reports exactly what was written.
      return /^[+-]?\d+(\.\d+)?$/.test(text) ? Number(text) : raw;
    case 'boolean': {
      const lower = text.toLowerCase();
      if (['true', 'yes', 'on', '1'].includes(lower)) return true;
      if (['false', 'no', 'off', '0'].includes(lower)) return false;
      return raw;
    }
    case 'list':
      return text === '' ? [] : text.split(',').map((s) => s.trim()).filter((s) => s !== '');
    case 'nullable':
    case 'string':
      return text;
  }
}

type Source =
  | { kind: 'file'; file: string; doc: Document; lines: LineCounter }
  | { kind: 'env'; name: string }
  | { kind: 'flag'; name: string };

type Plain = Record<string, unknown>;

function isPlain(v: unknown): v is Plain {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function setPath(target: Plain, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = target;
  for (const part of parts.slice(0, -1)) {
    if (!isPlain(cur[part])) cur[part] = {};
    cur = cur[part] as Plain;
  }
  cur[parts[parts.length - 1]!] = value;
}

function keyByPath(path: string): ConfigKey | undefined {
  return configKeys().find((k) => k.path === path);
}

interface FileLayer {
  data: Plain;
  source: Extract<Source, { kind: 'file' }>;
}

function readConfigFile(file: string, cwd: string): FileLayer {
  const absolute = isAbsolute(file) ? file : resolve(cwd, file);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(code ?? err);
    throw new ConfigError(`cannot read config file ${file}: ${why}`);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        const where = pos ? `${file}:${pos.line}:${pos.col}` : file;
        const what = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
        return `${where}: ${what}`;
      }),
    );
  }
  const data: unknown = doc.toJS({ maxAliasCount: 100 });
  if (data === null || data === undefined) return { data: {}, source: { kind: 'file', file, doc, lines } };
  if (!isPlain(data)) {
    throw new ConfigError(`${file}: expected a mapping of configuration keys at the top level, got ${showValue(data)}`);
  }
  return { data, source: { kind: 'file', file, doc, lines } };
}

/** Where in the YAML file a path (or, with `key`, one of its keys) is written, as `FILE:LINE:COL`. */
function fileLocation(src: Extract<Source, { kind: 'file' }>, path: readonly PropertyKey[], key?: string): string {
  const at = (offset: number | undefined): string => {
    if (offset === undefined) return src.file;
    const pos = src.lines.linePos(offset);
    return `${src.file}:${pos.line}:${pos.col}`;
  };
  const keys = path.filter((p): p is string | number => typeof p === 'string' || typeof p === 'number');
  const node: unknown = keys.length === 0 ? src.doc.contents : src.doc.getIn(keys, true);
  if (key !== undefined && isMap(node)) {
    const pair = node.items.find((p) => isScalar(p.key) && p.key.value === key);
    if (pair && isScalar(pair.key)) return at(pair.key.range?.[0]);
  }
  const range = (node as { range?: [number, number, number] } | undefined)?.range;
  return at(range?.[0]);
}

class Sources {
  readonly #byPath = new Map<string, Source>();

  set(path: string, source: Source): void {
    // A later layer replaces a group wholesale only at the paths it sets; drop stale deeper entries.
    for (const p of [...this.#byPath.keys()]) if (p.startsWith(`${path}.`)) this.#byPath.delete(p);
    this.#byPath.set(path, source);
  }

  /** Suffix naming where the value at `path` came from, e.g. ` (from PRESENCED_DB)`. */
  describe(path: readonly PropertyKey[], key?: string): string {
    const names = path.filter((p): p is string => typeof p === 'string');
    const candidates = key === undefined ? names : [...names, key];
    for (let i = candidates.length; i > 0; i--) {
      const src = this.#byPath.get(candidates.slice(0, i).join('.'));
      if (!src) continue;
      if (src.kind === 'file') return ` (at ${fileLocation(src, path, key)})`;
      return ` (from ${src.name})`;
    }
    return '';
  }
}

function validate(input: unknown, sources?: Sources): PresencedConfig {
  const result = configSchema.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  throw new ConfigError(result.error.issues.flatMap((issue) => describeIssue(issue, sources)));
}

function describeIssue(issue: z.core.$ZodIssue, sources?: Sources): string[] {
  const where = (key?: string): string => sources?.describe(issue.path, key) ?? '';
  if (issue.code === 'unrecognized_keys') {
    const prefix = issue.path.filter((p): p is string => typeof p === 'string').join('.');
    const depth = prefix === '' ? 1 : prefix.split('.').length + 1;
    // Candidates at the same nesting level, as full paths: "api.tokenz" should suggest "api.tokens".
    const known = [
      ...new Set(
        configKeys()
          .map((k) => k.path)
          .filter((p) => prefix === '' || p.startsWith(`${prefix}.`))
          .map((p) => p.split('.').slice(0, depth).join('.')),
      ),
    ];
    return issue.keys.map((k) => {
      const full = prefix === '' ? k : `${prefix}.${k}`;
      return `unknown key "${full}"${didYouMean(full, known)}${where(k)}`;
    });
  }
  const path = formatPath(issue.path);
  const secret = configKeys().some((k) => k.secret && (path === k.path || path.startsWith(`${k.path}[`)));
  const got = secret || !('input' in issue) ? '' : `, got ${showValue(issue.input)}`;
  return [`${path === '' ? '' : `${path}: `}${issue.message}${got}${where()}`];
}

/**
 * Validates a configuration object (YAML-shaped: camelCase keys, text forms such as `udp:HOST:PORT`
 * accepted) and fills in defaults. Throws ConfigError. Useful on its own in tests:
 * `parseConfig({ listen: ['udp:127.0.0.1:0'], db: 'sqlite::memory:' })`.
 */
export function parseConfig(input: unknown = {}): PresencedConfig {
  return validate(input);
}

export interface LoadConfigOptions {
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
}

export interface LoadedConfig {
  config: PresencedConfig;
  /** Absolute path of the YAML file read, if any. */
  configFile?: string;
  /** Non-fatal oddities worth logging, such as an unknown PRESENCED_* variable. */
  warnings: string[];
}

/**
 * Builds the configuration from defaults < YAML file (--config or PRESENCED_CONFIG) < PRESENCED_* environment
 * < --set < dedicated flags. Throws ConfigError naming the key, the problem and where the value came from.
 */
export function loadConfig(options: LoadConfigOptions): LoadedConfig {
  const { argv, env, cwd } = options;
  const flags = parseFlags(argv);
  const sources = new Sources();
  const warnings: string[] = [];
  let merged: Plain = {};
  let configFile: string | undefined;

  const configEnv = env[`${ENV_PREFIX}CONFIG`];
  const file = flags.config ?? (configEnv !== undefined && configEnv !== '' ? configEnv : undefined);
  if (file !== undefined) {
    const layer = readConfigFile(file, cwd);
    configFile = isAbsolute(file) ? file : resolve(cwd, file);
    merged = layer.data;
    for (const [k, v] of Object.entries(layer.data)) {
      sources.set(k, layer.source);
      if (isPlain(v)) for (const sub of Object.keys(v)) sources.set(`${k}.${sub}`, layer.source);
    }
  }

  const knownEnv = new Set([`${ENV_PREFIX}CONFIG`, ...configKeys().map((k) => k.env)]);
  for (const name of Object.keys(env).sort()) {
    if (name.startsWith(ENV_PREFIX) && !knownEnv.has(name)) {
      warnings.push(`unknown environment variable ${name} ignored${didYouMean(name, [...knownEnv])}`);
    }
  }
  for (const key of configKeys()) {
    const raw = env[key.env];
    // Empty means unset, so `PRESENCED_DOMAIN= presenced` behaves like not exporting it.
    if (raw === undefined || raw === '') continue;
    setPath(merged, key.path, fromString(key.kind, raw));
    sources.set(key.path, { kind: 'env', name: key.env });
  }

  for (const assignment of flags.set) {
    const eq = assignment.indexOf('=');
    if (eq <= 0) throw new ConfigError(`--set: expected KEY=VALUE, got ${showValue(assignment)}`);
    const path = assignment.slice(0, eq).trim();
    const key = keyByPath(path);
    if (!key) {
      const known = configKeys().map((k) => k.path);
      throw new ConfigError(`--set: unknown key "${path}"${didYouMean(path, known)}`);
    }
    setPath(merged, key.path, fromString(key.kind, assignment.slice(eq + 1)));
    sources.set(key.path, { kind: 'flag', name: `--set ${key.path}` });
  }

  const named: Array<[string, string, unknown]> = [];
  if (flags.listen) named.push(['listen', '--listen', flags.listen.flatMap((l) => fromString('list', l) as string[])]);
  if (flags.db !== undefined) named.push(['db', '--db', flags.db]);
  if (flags.http !== undefined) named.push(['http', '--http', flags.http]);
  if (flags.domain !== undefined) named.push(['domain', '--domain', flags.domain]);
  if (flags.logLevel !== undefined) named.push(['logLevel', '--log-level', flags.logLevel]);
  if (flags.auth !== undefined) named.push(['auth.mode', '--auth', flags.auth]);
  for (const [path, flag, value] of named) {
    setPath(merged, path, value);
    sources.set(path, { kind: 'flag', name: flag });
  }

  const config = validate(merged, sources);
  return configFile === undefined ? { config, warnings } : { config, configFile, warnings };
}

/** The storage selected by `db`, split into its kind and location. */
export type DbSpec = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

export function parseDb(db: string): DbSpec {
  if (db.startsWith('sqlite:')) return { kind: 'sqlite', path: db.slice('sqlite:'.length) };
  return { kind: 'postgres', url: db };
}

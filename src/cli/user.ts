/**
 * `presenced user add|del|list`: SIP users (digest credentials).
 *
 * Where the change goes:
 *   - a running presenced, through its HTTP API (POST/DELETE/GET /api/users), so it takes effect at once: with
 *     --url (or PRESENCED_URL), or when the configured `http` listener answers /health;
 *   - otherwise the configured database directly (bootstrap before the first start, scripts, a stopped server).
 *     A server started later reads it; one running without HTTP sees it only after a restart (said on stderr).
 * Passwords are read from stdin with --password-stdin (recommended: --password is visible to `ps`), turned into
 * H(A1) for MD5 and SHA-256 (RFC 7616 §5.1), and never stored or printed.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type PresencedConfig } from '../config/index.js';
import { openStore, type PresenceStore } from '../store/index.js';
import { UserInputError, userIdentity, userRecord } from '../auth/index.js';
import { readApiAnswer } from './api-answer.js';
import type { CliIo } from './serve.js';

const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

export const USER_HELP = `Usage: presenced user <command> [options]

Commands:
  add AOR [--password-stdin | --password P]   create a SIP user, or set a new password
  del AOR                                      delete a SIP user
  list [--domain D]                            list SIP users (no secrets are ever shown)

Options:
  --password-stdin   read the password from the first line of stdin (recommended)
  --password P       the password on the command line (visible to other local users through ps)
  --url URL          change a running presenced through its HTTP API (default: PRESENCED_URL, or the
                     configured http listener when it answers)
  --token TOKEN      API bearer token (default: PRESENCED_TOKEN, else the first of api.tokens)
  --config FILE      configuration file (as for the server; gives db and http)
  --db URL           the database to change directly (sqlite:PATH)
  --json             print JSON
  -h, --help         this help

AOR is sip:user@domain (or user@domain). Without a reachable server the database is changed directly; a server
running without HTTP sees that change at its next start.
Exit status: 0 success, 1 failure, 2 usage error.
`;

export interface UserCommandDeps {
  /** Reads all of stdin (tests inject it). */
  readonly readStdin?: () => Promise<string>;
  readonly fetchImpl?: typeof fetch;
}

class UsageError extends Error {}

interface UserView {
  aor: string;
  username?: string;
  realm?: string;
  createdAt?: string | number;
  updatedAt?: string | number;
}

async function readAll(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += b.length;
    if (size > 64 * 1024) break;
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function table(users: readonly UserView[]): string {
  if (users.length === 0) return '(no users)\n';
  const when = (v: string | number | undefined): string => (v === undefined ? '' : new Date(v).toISOString());
  const rows = users.map((u) => [u.aor, when(u.updatedAt)]);
  const w = Math.max(3, ...rows.map((r) => r[0]!.length));
  return [`${'AOR'.padEnd(w)}  UPDATED`, ...rows.map((r) => `${r[0]!.padEnd(w)}  ${r[1]}`)].join('\n') + '\n';
}

/** Runs `presenced user ARGV`; resolves with the exit status. */
export async function userCommand(argv: readonly string[], io: CliIo, deps: UserCommandDeps = {}): Promise<number> {
  const name = argv[0];
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout)(USER_HELP);
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (name !== 'add' && name !== 'del' && name !== 'list') {
    io.stderr(`presenced user: unknown command "${name}" (see presenced user --help)\n`);
    return EXIT_USAGE;
  }
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  let aor: string | undefined;
  let config: PresencedConfig;
  try {
    const parsed = parseArgs({
      args: [...argv.slice(1)],
      options: {
        'password-stdin': { type: 'boolean' },
        password: { type: 'string' },
        domain: { type: 'string' },
        url: { type: 'string' },
        token: { type: 'string' },
        config: { type: 'string' },
        db: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    });
    values = parsed.values;
    positionals = parsed.positionals;
    if (values['help'] === true) {
      io.stdout(USER_HELP);
      return EXIT_OK;
    }
    if (name === 'list') {
      if (positionals.length !== 0) throw new UsageError('list takes no arguments');
    } else {
      if (positionals.length !== 1) throw new UsageError(`${name} takes one AOR (sip:user@domain)`);
      aor = userIdentity(positionals[0]!).aor;
    }
    if (name === 'add' && (values['password'] === undefined) === (values['password-stdin'] !== true)) {
      throw new UsageError('add needs exactly one of --password-stdin or --password');
    }
    const cfgArgs: string[] = [];
    if (typeof values['config'] === 'string') cfgArgs.push('--config', values['config']);
    if (typeof values['db'] === 'string') cfgArgs.push('--db', values['db']);
    config = loadConfig({ argv: cfgArgs, env: io.env, cwd: io.cwd }).config;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    io.stderr(`presenced user: ${message}\n`);
    return error instanceof UsageError || error instanceof UserInputError || error instanceof ConfigError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
      ? EXIT_USAGE
      : EXIT_FAILURE;
  }

  let password: string | undefined;
  if (name === 'add') {
    if (values['password-stdin'] === true) {
      const text = await (deps.readStdin ?? readAll)();
      password = text.split(/\r?\n/)[0] ?? '';
    } else {
      password = values['password'] as string;
      io.stderr('presenced user: note: --password is visible to other local users (ps); prefer --password-stdin\n');
    }
    try {
      userRecord(aor!, password, 0);
    } catch (error) {
      io.stderr(`presenced user: ${(error as Error).message}\n`);
      return EXIT_USAGE;
    }
  }

  const fetchImpl = deps.fetchImpl ?? fetch;
  const explicitUrl = typeof values['url'] === 'string' ? values['url'] : io.env['PRESENCED_URL'];
  let base: string | undefined = explicitUrl?.replace(/\/+$/, '');
  if (base === undefined && config.http !== null && typeof values['db'] !== 'string') {
    const host = config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host === '::' ? '::1' : config.http.host;
    const candidate = `http://${host.includes(':') ? `[${host}]` : host}:${config.http.port}`;
    if (await answers(fetchImpl, `${candidate}/health`)) base = candidate;
  }
  const token =
    typeof values['token'] === 'string' ? values['token'] : (io.env['PRESENCED_TOKEN'] ?? config.api.tokens[0]);
  const json = values['json'] === true;
  if (base !== undefined) return viaApi(io, fetchImpl, base, token, name, aor, password, values, json);
  return direct(io, config, name, aor, password, values, json);
}

/** Whether a presenced answers /health there (its JSON, not just any HTTP server on that port). */
async function answers(fetchImpl: typeof fetch, url: string): Promise<boolean> {
  try {
    const res = await fetchImpl(url, { signal: AbortSignal.timeout(800) });
    const body = (await res.json()) as { status?: unknown; uptime?: unknown };
    return res.ok && body.status === 'ok' && typeof body.uptime === 'number';
  } catch {
    return false;
  }
}

async function viaApi(
  io: CliIo,
  fetchImpl: typeof fetch,
  base: string,
  token: string | undefined,
  name: 'add' | 'del' | 'list',
  aor: string | undefined,
  password: string | undefined,
  values: Record<string, string | boolean | undefined>,
  json: boolean,
): Promise<number> {
  if (!/^https?:\/\//i.test(base)) {
    io.stderr(`presenced user: --url must start with http:// or https:// (got "${base}")\n`);
    return EXIT_USAGE;
  }
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token !== undefined && token !== '') headers['authorization'] = `Bearer ${token}`;
  let method = 'GET';
  let path = '/api/users?limit=1000';
  let body: string | undefined;
  if (name === 'add') {
    method = 'POST';
    path = '/api/users';
    headers['content-type'] = 'application/json';
    body = JSON.stringify({ aor, password });
  } else if (name === 'del') {
    method = 'DELETE';
    path = `/api/users/${encodeURIComponent(aor!)}`;
  } else if (typeof values['domain'] === 'string') {
    path += `&domain=${encodeURIComponent(values['domain'])}`;
  }
  let res: Response;
  try {
    res = await fetchImpl(base + path, { method, headers, ...(body !== undefined && { body }), signal: AbortSignal.timeout(30_000) });
  } catch (error) {
    io.stderr(`presenced user: cannot reach ${base} (${error instanceof Error ? error.message : String(error)})\n`);
    return EXIT_FAILURE;
  }
  const parsed = await readApiAnswer(res, base, 'presenced user', io);
  if (parsed === undefined) return EXIT_FAILURE;
  if (json) io.stdout(JSON.stringify(parsed, null, 2) + '\n');
  else if (name === 'list') io.stdout(table((parsed as { items: UserView[] }).items));
  else if (name === 'add') io.stdout(`${res.status === 201 ? 'created' : 'password changed'}: ${aor!} (via ${base})\n`);
  else io.stdout(`deleted: ${aor!} (via ${base})\n`);
  return EXIT_OK;
}

async function direct(
  io: CliIo,
  config: PresencedConfig,
  name: 'add' | 'del' | 'list',
  aor: string | undefined,
  password: string | undefined,
  values: Record<string, string | boolean | undefined>,
  json: boolean,
): Promise<number> {
  if (!config.db.startsWith('sqlite:')) {
    io.stderr(`presenced user: the database ${config.db} cannot be changed from the command line; use the HTTP API (--url)\n`);
    return EXIT_USAGE;
  }
  let store: PresenceStore;
  try {
    store = await openStore(config.db, { thread: 'main' });
  } catch (error) {
    io.stderr(`presenced user: cannot open ${config.db}: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT_FAILURE;
  }
  try {
    const users = (await store.load()).users;
    const existing = aor === undefined ? undefined : users.find((u) => u.aor === aor);
    if (name === 'list') {
      const domain = typeof values['domain'] === 'string' ? values['domain'].toLowerCase() : undefined;
      const list = users
        .filter((u) => domain === undefined || u.realm === domain)
        .sort((a, b) => (a.aor < b.aor ? -1 : 1))
        .map((u) => ({ aor: u.aor, username: u.username, realm: u.realm, createdAt: u.createdAt, updatedAt: u.updatedAt }));
      io.stdout(json ? JSON.stringify({ items: list }, null, 2) + '\n' : table(list));
      return EXIT_OK;
    }
    if (name === 'add') {
      const record = userRecord(aor!, password!, Date.now(), existing?.createdAt);
      await store.write([{ kind: 'put-user', record }]);
      io.stdout(`${existing === undefined ? 'created' : 'password changed'}: ${aor!} (${config.db})\n`);
    } else {
      if (existing === undefined) {
        io.stderr(`presenced user: no user ${aor!} in ${config.db}\n`);
        return EXIT_FAILURE;
      }
      await store.write([{ kind: 'delete-user', aor: aor! }]);
      io.stdout(`deleted: ${aor!} (${config.db})\n`);
    }
    if (config.http === null) {
      io.stderr('presenced user: a presenced already running on this database sees the change at its next start\n');
    }
    return EXIT_OK;
  } catch (error) {
    io.stderr(`presenced user: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT_FAILURE;
  } finally {
    await store.close();
  }
}

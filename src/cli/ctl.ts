/**
 * `presenced ctl`: the management API from a shell (the OpenSIPS `opensips-cli -x mi` habit). Every command is
 * one HTTP request to a running presenced; output is a human table or, with --json, the API's JSON as is.
 * The token comes from --token or PRESENCED_TOKEN (the environment keeps it out of `ps`).
 */
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { readApiAnswer } from './api-answer.js';
import type { CliIo } from './serve.js';

const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

const DEFAULT_URL = 'http://127.0.0.1:8080';

export const CTL_HELP = `Usage: presenced ctl <command> [options]

Talks to a running presenced through its HTTP API.

Commands:
  list-presentities [--event E] [--domain D] [--uri PATTERN] [--limit N] [--offset N] [--bodies]
  show-presentity URI [--event E]
  list-subscriptions [--presentity URI] [--event E] [--watcher URI] [--status S] [--limit N] [--offset N]
  show-subscription ID
  publish --presentity URI [--event E] [--expires S] [--content-type T] [--body TEXT | --body-file PATH|-] [--etag E]
  refresh-watchers URI [--event E] [--type 0|1]
  cleanup
  expose [--event E] [--filter REGEX]
  stats
  subscribe --presentity URI --watcher URI [--event E] [--expires S] [--target URI] [--accept TYPE]
  unsubscribe ID
  list-outbound [--presentity URI] [--watcher URI] [--event E] [--state S] [--limit N] [--offset N]
  show-outbound ID

Options:
  --url URL      API base URL (default: PRESENCED_URL or ${DEFAULT_URL})
  --token TOKEN  bearer token (default: PRESENCED_TOKEN)
  --json         print the API's JSON instead of a table
  -h, --help     this help

PATTERN is a glob (* and ?), e.g. 'sip:*@example.com'; REGEX a JavaScript regular expression.
subscribe makes presenced hold a subscription as a client (pua_subscribe): each NOTIFY it receives is a notify-in
event (presenced ctl cannot follow events: curl -N $URL/events?type=notify-in).
Exit status: 0 success, 1 the request failed, 2 usage error.
`;

type Options = NonNullable<ParseArgsConfig['options']>;

const COMMON: Options = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

interface CommandSpec {
  readonly options: Options;
  /** Positional arguments it takes (names, for messages). */
  readonly positionals: readonly string[];
  request(values: Values, positionals: readonly string[]): Request;
  human(json: unknown, values: Values): string;
}

type Values = Record<string, string | boolean | undefined>;

interface Request {
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly path: string;
  readonly body?: unknown;
}

class UsageError extends Error {}

function query(values: Values, keys: readonly string[]): string {
  const q = new URLSearchParams();
  for (const k of keys) {
    const v = values[k];
    if (typeof v === 'string') q.set(k, v);
    else if (v === true) q.set(k, 'true');
  }
  const s = q.toString();
  return s === '' ? '' : `?${s}`;
}

function intOption(values: Values, key: string): number | undefined {
  const v = values[key];
  if (typeof v !== 'string') return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${key} expects a whole number, got "${v}"`);
  return Number(v);
}

/** Fixed-width columns; the last column is not padded. */
function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

interface PresentityItem {
  uri: string;
  event: string;
  watchers: number;
  publications: Array<{ etag: string; expires: number; contentType: string; body?: string }>;
}
interface SubscriptionItem {
  id: string;
  presentity: string;
  watcher: string;
  event: string;
  status: string;
  expires: number;
}
interface OutboundItem {
  id: string;
  presentity: string;
  watcher: string;
  event: string;
  state: string;
  notifies: number;
}
interface PageOf<T> {
  items: T[];
  total: number;
  offset: number;
}

function pageFooter(page: PageOf<unknown>): string {
  const shown = page.items.length;
  if (shown === page.total) return `${page.total} in total\n`;
  return `${shown} shown (from ${page.offset + 1}) of ${page.total}; use --offset/--limit for more\n`;
}

function prettyJson(json: unknown): string {
  return JSON.stringify(json, null, 2) + '\n';
}

/** A paged GET list: string filters and boolean flags as query parameters, plus --limit/--offset (whole numbers). */
function listCommand(
  path: string,
  filters: readonly string[],
  human: CommandSpec['human'],
  flags: readonly string[] = [],
): CommandSpec {
  const options: Options = {};
  for (const f of filters) options[f] = { type: 'string' };
  options['limit'] = { type: 'string' };
  options['offset'] = { type: 'string' };
  for (const f of flags) options[f] = { type: 'boolean' };
  const keys = [...filters, 'limit', 'offset', ...flags];
  return {
    options,
    positionals: [],
    request: (v) => {
      intOption(v, 'limit');
      intOption(v, 'offset');
      return { method: 'GET', path: `${path}${query(v, keys)}` };
    },
    human,
  };
}

/** GET one item by ID under `path`, printed as the API's JSON. */
function showCommand(path: string): CommandSpec {
  return {
    options: {},
    positionals: ['ID'],
    request: (_v, [id]) => ({ method: 'GET', path: `${path}/${encodeURIComponent(id!)}` }),
    human: prettyJson,
  };
}

const COMMANDS: Record<string, CommandSpec> = {
  'list-presentities': listCommand(
    '/api/presentities',
    ['event', 'domain', 'uri'],
    (json, v) => {
      const page = json as PageOf<PresentityItem>;
      const rows = page.items.map((p) => [
        p.uri,
        p.event,
        String(p.publications.length),
        String(p.watchers),
        p.publications.length === 0 ? '-' : `${Math.max(...p.publications.map((x) => x.expires))}s`,
      ]);
      let out = table(['PRESENTITY', 'EVENT', 'PUBLICATIONS', 'WATCHERS', 'EXPIRES'], rows);
      if (v['bodies'] === true) {
        for (const p of page.items) for (const pub of p.publications) out += `\n# ${p.uri} ${p.event} etag=${pub.etag}\n${pub.body ?? ''}\n`;
      }
      return out + pageFooter(page);
    },
    ['bodies'],
  ),

  'show-presentity': {
    options: { event: { type: 'string' } },
    positionals: ['URI'],
    request: (v, [uri]) => ({ method: 'GET', path: `/api/presentities/${encodeURIComponent(uri!)}${query(v, ['event'])}` }),
    human: (json) => {
      const d = json as {
        uri: string;
        events: Array<{ event: string; watchers: number; publications: PresentityItem['publications'] }>;
      };
      let out = `${d.uri}\n`;
      for (const e of d.events) {
        out += `\n[${e.event}] ${e.publications.length} publication(s), ${e.watchers} watcher(s)\n`;
        for (const p of e.publications) out += `\n# etag=${p.etag} expires=${p.expires}s type=${p.contentType}\n${p.body ?? ''}\n`;
      }
      return out;
    },
  },

  'list-subscriptions': listCommand('/api/subscriptions', ['presentity', 'event', 'watcher', 'status'], (json) => {
    const page = json as PageOf<SubscriptionItem>;
    const rows = page.items.map((s) => [s.presentity, s.watcher, s.event, s.status, `${s.expires}s`, s.id]);
    return table(['PRESENTITY', 'WATCHER', 'EVENT', 'STATUS', 'EXPIRES', 'ID'], rows) + pageFooter(page);
  }),

  'show-subscription': showCommand('/api/subscriptions'),

  publish: {
    options: {
      presentity: { type: 'string' },
      event: { type: 'string' },
      expires: { type: 'string' },
      'content-type': { type: 'string' },
      body: { type: 'string' },
      'body-file': { type: 'string' },
      etag: { type: 'string' },
    },
    positionals: [],
    request: (v) => {
      if (typeof v['presentity'] !== 'string') throw new UsageError('publish needs --presentity URI');
      if (v['body'] !== undefined && v['body-file'] !== undefined) throw new UsageError('give --body or --body-file, not both');
      const file = v['body-file'];
      const body = typeof file === 'string' ? readFileSync(file === '-' ? 0 : file, 'utf8') : v['body'];
      const expires = intOption(v, 'expires');
      return {
        method: 'POST',
        path: '/api/publish',
        body: {
          presentity: v['presentity'],
          ...(typeof v['event'] === 'string' && { event: v['event'] }),
          ...(expires !== undefined && { expires }),
          ...(typeof v['content-type'] === 'string' && { contentType: v['content-type'] }),
          ...(typeof body === 'string' && { body }),
          ...(typeof v['etag'] === 'string' && { etag: v['etag'] }),
        },
      };
    },
    human: (json) => {
      const r = json as { etag: string; expires: number };
      return r.expires === 0 ? `removed (etag ${r.etag})\n` : `etag ${r.etag} (expires in ${r.expires}s)\n`;
    },
  },

  'refresh-watchers': {
    options: { event: { type: 'string' }, type: { type: 'string' } },
    positionals: ['URI'],
    request: (v, [uri]) => {
      const type = v['type'];
      if (type !== undefined && type !== '0' && type !== '1') throw new UsageError('--type is 0 (rules changed) or 1 (state changed)');
      return {
        method: 'POST',
        path: `/api/presentities/${encodeURIComponent(uri!)}/refresh`,
        body: { ...(typeof v['event'] === 'string' && { event: v['event'] }), ...(type !== undefined && { type: Number(type) }) },
      };
    },
    human: (json) => `notified ${(json as { notified: number }).notified} watcher(s)\n`,
  },

  cleanup: {
    options: {},
    positionals: [],
    request: () => ({ method: 'POST', path: '/api/cleanup', body: {} }),
    human: (json) => {
      const r = json as { publications: number; subscriptions: number };
      return `removed ${r.publications} expired publication(s) and ${r.subscriptions} subscription(s)\n`;
    },
  },

  expose: {
    options: { event: { type: 'string' }, filter: { type: 'string' } },
    positionals: [],
    request: (v) => ({
      method: 'POST',
      path: '/api/expose',
      body: {
        ...(typeof v['event'] === 'string' && { event: v['event'] }),
        ...(typeof v['filter'] === 'string' && { filter: v['filter'] }),
      },
    }),
    human: (json) => `exposed ${(json as { exposed: number }).exposed} publication(s) as events\n`,
  },

  stats: {
    options: {},
    positionals: [],
    request: () => ({ method: 'GET', path: '/api/stats' }),
    human: prettyJson,
  },

  subscribe: {
    options: {
      presentity: { type: 'string' },
      watcher: { type: 'string' },
      event: { type: 'string' },
      expires: { type: 'string' },
      target: { type: 'string' },
      accept: { type: 'string', multiple: true },
    },
    positionals: [],
    request: (v) => {
      if (typeof v['presentity'] !== 'string' || typeof v['watcher'] !== 'string') {
        throw new UsageError('subscribe needs --presentity URI and --watcher URI');
      }
      const expires = intOption(v, 'expires');
      const accept = v['accept'] as unknown as string[] | undefined;
      return {
        method: 'POST',
        path: '/api/subscribe',
        body: {
          presentity: v['presentity'],
          watcher: v['watcher'],
          ...(typeof v['event'] === 'string' && { event: v['event'] }),
          ...(expires !== undefined && { expires }),
          ...(typeof v['target'] === 'string' && { target: v['target'] }),
          ...(accept !== undefined && { accept }),
        },
      };
    },
    human: (json) => {
      const s = json as OutboundItem;
      return `subscription ${s.id}: ${s.watcher} -> ${s.presentity} (${s.event}) ${s.state}\n`;
    },
  },

  unsubscribe: {
    options: {},
    positionals: ['ID'],
    request: (_v, [id]) => ({ method: 'DELETE', path: `/api/subscribe/${encodeURIComponent(id!)}` }),
    human: (json) => `unsubscribing ${(json as OutboundItem).id}\n`,
  },

  'list-outbound': listCommand('/api/subscribe', ['presentity', 'watcher', 'event', 'state'], (json) => {
    const page = json as PageOf<OutboundItem>;
    const rows = page.items.map((s) => [s.watcher, s.presentity, s.event, s.state, String(s.notifies), s.id]);
    return table(['WATCHER', 'PRESENTITY', 'EVENT', 'STATE', 'NOTIFIES', 'ID'], rows) + pageFooter(page);
  }),

  'show-outbound': showCommand('/api/subscribe'),
};

/** Runs `presenced ctl ARGV`; resolves with the exit status. `fetchImpl` is injected by tests. */
export async function ctl(argv: readonly string[], io: CliIo, fetchImpl: typeof fetch = fetch): Promise<number> {
  const name = argv[0];
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout)(CTL_HELP);
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    io.stderr(`presenced ctl: unknown command "${name}" (see presenced ctl --help)\n`);
    return EXIT_USAGE;
  }
  let values: Values;
  let positionals: string[];
  let request: Request;
  try {
    const parsed = parseArgs({
      args: [...argv.slice(1)],
      options: { ...COMMON, ...command.options },
      allowPositionals: true,
      strict: true,
    });
    values = parsed.values as Values;
    positionals = parsed.positionals;
    if (values['help'] === true) {
      io.stdout(CTL_HELP);
      return EXIT_OK;
    }
    if (positionals.length !== command.positionals.length) {
      const want = command.positionals.length === 0 ? 'no arguments' : command.positionals.join(' ');
      throw new UsageError(`${name} takes ${want}`);
    }
    request = command.request(values, positionals);
  } catch (error) {
    io.stderr(`presenced ctl: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT_USAGE;
  }

  const base = (typeof values['url'] === 'string' ? values['url'] : (io.env['PRESENCED_URL'] ?? DEFAULT_URL)).replace(/\/+$/, '');
  if (!/^https?:\/\//i.test(base)) {
    io.stderr(`presenced ctl: --url must start with http:// or https:// (got "${base}")\n`);
    return EXIT_USAGE;
  }
  const token = typeof values['token'] === 'string' ? values['token'] : io.env['PRESENCED_TOKEN'];
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token !== undefined && token !== '') headers['authorization'] = `Bearer ${token}`;
  if (request.body !== undefined) headers['content-type'] = 'application/json';

  let res: Response;
  try {
    res = await fetchImpl(base + request.path, {
      method: request.method,
      headers,
      ...(request.body !== undefined && { body: JSON.stringify(request.body) }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
    io.stderr(`presenced ctl: cannot reach ${base} (${why}); is presenced running with http enabled?\n`);
    return EXIT_FAILURE;
  }
  const json = await readApiAnswer(res, base, 'presenced ctl', io);
  if (json === undefined) return EXIT_FAILURE;
  io.stdout(values['json'] === true ? prettyJson(json) : command.human(json, values));
  return EXIT_OK;
}

import { isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';
import { presencedVersion } from './version.js';

/** One SIP listening socket. `host` is a bare address (IPv6 without brackets), ready for bind(). */
export interface ListenSpec {
  transport: 'udp' | 'tcp';
  host: string;
  port: number;
}

/** Where the HTTP API listens. */
export interface HttpListenSpec {
  host: string;
  port: number;
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** The validated configuration. Every key is documented in docs/config.md (generated from the schema). */
export interface PresencedConfig {
  listen: ListenSpec[];
  db: string;
  http: HttpListenSpec | null;
  domain?: string;
  domains: string[];
  logLevel: LogLevel;
  cleanPeriod: number;
  expiresOffset: number;
  maxExpiresSubscribe: number;
  maxExpiresPublish: number;
  minExpires: number;
  serverAddress?: string;
  notifyOfflineBody: boolean;
  endSubOnTimeout: boolean;
  subscribeReplyCode: 200 | 202;
  forceActive: boolean;
  notifyRecoveryRate: number;
  notifyMinInterval: number;
  maxMessageSize: number;
  tcpIdleTimeout: number;
  maxConnectionsPerSource: number;
  maxConnections: number;
  udpReceiveBuffer: number;
  userAgent: string;
  auth: {
    mode: 'auto' | 'on' | 'off';
    register: boolean;
    publish: boolean;
    subscribe: boolean;
    proxy: boolean;
    trustedPublishers: string[];
    algorithms: Array<'SHA-256' | 'MD5'>;
    nonceTtl: number;
    maxFailures: number;
    failureWindow: number;
    blockTime: number;
  };
  registrar: {
    enabled: boolean;
    minExpires: number;
    maxExpires: number;
    defaultExpires: number;
    maxContacts: number;
    regEvent: boolean;
  };
  presenceFromRegistration: { enabled: boolean; users: string[]; domains: string[] };
  proxy: { enabled: boolean; timerC: number; overloadThreshold: number };
  calls: { publishDialogs: boolean; maxDuration: number; earlyTimeout: number };
  api: { tokens: string[]; webhooks: WebhookSpec[] };
  mixDialogPresence: boolean;
  sphereCheck: boolean;
  waitingSubsDays: number;
  bla: { presentity?: string; fixRemoteTarget: boolean; trustSender: boolean };
  dialog: { singleDialog: boolean };
  mwi: { subscribers: 'self' | 'any' };
}

/** A webhook (api.webhooks): the API's events POSTed as JSON to `url` (docs/api.md, Webhooks). */
export interface WebhookSpec {
  url: string;
  /** Event types to send; all when absent. */
  types?: WebhookEventType[];
  /** Event packages to send; all when absent. */
  events?: string[];
  /** Presentity URI glob; all when absent. */
  presentity?: string;
  /** HMAC-SHA256 key for X-Presenced-Signature. */
  secret?: string;
}

/** The API's event types (src/admin API_EVENT_TYPES; a test keeps the two lists equal). */
export const WEBHOOK_EVENT_TYPES = [
  'publish',
  'unpublish',
  'exposed',
  'subscription-created',
  'subscription-terminated',
  'notify-failed',
  'notify-in',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/**
 * How a key's value is read from a string (environment variable or `--set`).
 * Kept explicit per key because the zod schemas use transforms that cannot be introspected reliably.
 */
export type StringKind = 'number' | 'boolean' | 'string' | 'list' | 'nullable';

export interface KeyDoc {
  description: string;
  /** Type as shown in --help and docs/config.md. */
  type: string;
  kind: StringKind;
  /** Default as shown in docs, when the raw default would read badly (objects, version-dependent values). */
  defaultText?: string;
  /** Never echo the value in error messages or logs. */
  secret?: boolean;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;

const keyDocs = z.registry<KeyDoc>();

function documented<T extends z.ZodType>(schema: T, doc: KeyDoc): T {
  const described = schema.describe(doc.description);
  keyDocs.add(described, doc);
  return described;
}

function wholeNumber(min: number, max?: number): z.ZodNumber {
  const expectation =
    max === undefined ? `expected a number >= ${min}` : `expected a number between ${min} and ${max}`;
  let schema = z
    .number({ error: expectation })
    .int({ error: `${expectation} (a whole number)` })
    .min(min, { error: expectation });
  if (max !== undefined) schema = schema.max(max, { error: expectation });
  return schema;
}

const bool = (): z.ZodBoolean => z.boolean({ error: 'expected true or false' });

type HostResult = { host: string } | { error: string };

function checkHost(raw: string): HostResult {
  if (raw.startsWith('[') && raw.endsWith(']')) {
    const inner = raw.slice(1, -1);
    return isIPv6(inner) ? { host: inner } : { error: `"${inner}" is not an IPv6 address` };
  }
  if (isIPv4(raw)) return { host: raw };
  if (isIPv6(raw)) return { host: raw };
  // RFC 1123 host names; letters, digits, dots and hyphens are enough for a bind address.
  if (/^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(raw)) return { host: raw };
  return { error: `"${raw}" is not a host name or IP address` };
}

type HostPort = { host: string; port: number } | { error: string };

/** Splits `HOST:PORT`, `[IPv6]:PORT`, or (when defaultPort is given) a bare `HOST`. */
function splitHostPort(text: string, defaultPort?: number): HostPort {
  let hostPart: string;
  let portPart: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return { error: 'unterminated "[" in IPv6 address' };
    hostPart = text.slice(0, close + 1);
    const rest = text.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return { error: `unexpected "${rest}" after "${hostPart}"` };
      portPart = rest.slice(1);
    }
  } else {
    const colons = text.split(':').length - 1;
    if (colons > 1) return { error: 'an IPv6 address needs brackets, as in [::1]:5060' };
    const at = text.lastIndexOf(':');
    hostPart = at < 0 ? text : text.slice(0, at);
    portPart = at < 0 ? undefined : text.slice(at + 1);
  }
  const host = checkHost(hostPart);
  if ('error' in host) return host;
  if (portPart === undefined) {
    if (defaultPort === undefined) return { error: 'missing ":PORT"' };
    return { host: host.host, port: defaultPort };
  }
  if (!/^\d{1,5}$/.test(portPart) || Number(portPart) > 65535) {
    return { error: `port "${portPart}" is not a number between 0 and 65535` };
  }
  return { host: host.host, port: Number(portPart) };
}

const LISTEN_FORM = 'expected TRANSPORT:HOST:PORT with TRANSPORT udp or tcp (IPv6 as udp:[::1]:5060)';

/** Parses the `--listen` text form. Exported for tests and for tools that print listeners. */
export function parseListen(text: string): ListenSpec | { error: string } {
  const colon = text.indexOf(':');
  const transport = colon < 0 ? text : text.slice(0, colon).toLowerCase();
  if (transport !== 'udp' && transport !== 'tcp') return { error: LISTEN_FORM };
  if (colon < 0) return { error: LISTEN_FORM };
  const hp = splitHostPort(text.slice(colon + 1), 5060);
  if ('error' in hp) return { error: `expected TRANSPORT:HOST:PORT: ${hp.error}` };
  return { transport, host: hp.host, port: hp.port };
}

/** The `--listen` text form of a listener (IPv6 bracketed), the inverse of parseListen. */
export function formatListen(spec: ListenSpec): string {
  const host = spec.host.includes(':') ? `[${spec.host}]` : spec.host;
  return `${spec.transport}:${host}:${spec.port}`;
}

const listenEntry = z.unknown().transform((value, ctx): ListenSpec => {
  if (typeof value === 'string') {
    const parsed = parseListen(value.trim());
    if ('error' in parsed) {
      ctx.issues.push({ code: 'custom', message: parsed.error, input: value });
      return z.NEVER;
    }
    return parsed;
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    const extra = Object.keys(o).filter((k) => k !== 'transport' && k !== 'host' && k !== 'port');
    const transport = o['transport'];
    const port = o['port'];
    const host = typeof o['host'] === 'string' ? checkHost(o['host']) : { error: 'host missing' };
    let problem: string | undefined;
    if (extra.length > 0) problem = `unknown field "${extra[0]}"`;
    else if (transport !== 'udp' && transport !== 'tcp') problem = 'transport must be udp or tcp';
    else if ('error' in host) problem = host.error;
    else if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
      problem = 'port must be a number between 0 and 65535';
    }
    if (problem !== undefined || 'error' in host) {
      ctx.issues.push({
        code: 'custom',
        message: `expected {transport, host, port} or "udp:HOST:PORT": ${problem ?? ''}`,
        input: value,
      });
      return z.NEVER;
    }
    return { transport: transport as 'udp' | 'tcp', host: host.host, port: port as number };
  }
  ctx.issues.push({ code: 'custom', message: LISTEN_FORM, input: value });
  return z.NEVER;
});

const DEFAULT_LISTEN: ListenSpec[] = [
  { transport: 'udp', host: '0.0.0.0', port: 5060 },
  { transport: 'tcp', host: '0.0.0.0', port: 5060 },
];

const listenSchema = z
  .array(listenEntry, { error: 'expected a list of TRANSPORT:HOST:PORT listeners' })
  .min(1, { error: 'expected at least one listener' })
  .superRefine((specs, ctx) => {
    const seen = new Set<string>();
    specs.forEach((spec, i) => {
      const id = formatListen(spec);
      if (seen.has(id)) ctx.addIssue({ code: 'custom', path: [i], message: `duplicate listener ${id}`, input: id });
      seen.add(id);
    });
  }, { when: (payload) => payload.issues.length === 0 })
  .default(() => DEFAULT_LISTEN.map((l) => ({ ...l })));

const HTTP_FORM = 'expected HOST:PORT (IPv6 as [::1]:8080) or "off"';
const HTTP_OFF = new Set(['off', 'none', 'null', 'false', 'disabled']);

const httpSchema = z
  .unknown()
  .transform((value, ctx): HttpListenSpec | null => {
    if (value === null || value === false) return null;
    if (typeof value === 'string') {
      const text = value.trim();
      if (HTTP_OFF.has(text.toLowerCase())) return null;
      const hp = splitHostPort(text);
      if ('error' in hp) {
        ctx.issues.push({ code: 'custom', message: `expected HOST:PORT or "off": ${hp.error}`, input: value });
        return z.NEVER;
      }
      return hp;
    }
    if (typeof value === 'object' && !Array.isArray(value)) {
      const o = value as Record<string, unknown>;
      const host = typeof o['host'] === 'string' ? checkHost(o['host']) : undefined;
      const port = o['port'];
      const onlyKnown = Object.keys(o).every((k) => k === 'host' || k === 'port');
      if (onlyKnown && host && !('error' in host) && typeof port === 'number' && Number.isInteger(port) && port >= 0 && port <= 65535) {
        return { host: host.host, port };
      }
    }
    ctx.issues.push({ code: 'custom', message: HTTP_FORM, input: value });
    return z.NEVER;
  })
  .default({ host: '127.0.0.1', port: 8080 });

const DB_FORM = 'expected sqlite:PATH or postgres://USER@HOST/DB';

const dbSchema = z
  .string({ error: DB_FORM })
  .refine((s) => /^sqlite:.+/.test(s) || /^postgres(ql)?:\/\/.+/.test(s), { error: DB_FORM })
  .default('sqlite:./data/presenced.db');

const DOMAIN_FORM = 'expected a domain name or IP address (no "sip:", no port)';

const domainName = z
  .string({ error: DOMAIN_FORM })
  .refine((s) => !('error' in checkHost(s)), { error: DOMAIN_FORM })
  // SIP host comparison is case-insensitive (RFC 3261 §19.1.4); normalise once here.
  .transform((s) => s.toLowerCase());

const SIP_URI_FORM = 'expected a SIP URI such as sip:presence.example.com:5060';

const WEBHOOK_URL_FORM = 'expected an http:// or https:// URL';

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

const webhookUrl = z
  .string({ error: WEBHOOK_URL_FORM })
  .max(2048, { error: 'URL longer than 2048 characters' })
  .refine(isHttpUrl, { error: WEBHOOK_URL_FORM });

/** One webhook: a bare URL (every event), or a mapping with filters and a signing secret. */
const webhookEntry = z.preprocess(
  (v) => (typeof v === 'string' ? { url: v.trim() } : v),
  z.strictObject(
    {
      url: webhookUrl,
      types: z
        .array(z.enum(WEBHOOK_EVENT_TYPES, { error: `expected one of ${WEBHOOK_EVENT_TYPES.join(', ')}` }), {
          error: 'expected a list of event types',
        })
        .optional(),
      events: z
        .array(
          z
            .string({ error: 'expected an event package name' })
            .regex(/^[A-Za-z0-9.!%*_+`'~-]+(;[A-Za-z0-9.!%*_+`'~-]+(=[A-Za-z0-9.!%*_+`'~-]+)?)*$/, {
              error: 'expected an event package name such as presence',
            }),
          { error: 'expected a list of event package names' },
        )
        .optional(),
      presentity: z.string({ error: 'expected a URI glob such as sip:*@example.com' }).min(1).max(256).optional(),
      secret: z.string({ error: 'expected a string' }).min(1).max(512).optional(),
    },
    { error: 'expected a URL, or a mapping with keys url, types, events, presentity, secret' },
  ),
);

const AOR_FORM = 'expected a SIP address of record such as sip:alice@example.com';

/** A user's address of record, normalised as the core compares them (sips folded to sip, domain lower-cased). */
const sipAor = z
  .string({ error: AOR_FORM })
  .regex(/^sips?:[^\s@<>";?]+@[A-Za-z0-9.[\]:-]+$/i, { error: AOR_FORM })
  .transform((s) => {
    const at = s.lastIndexOf('@');
    return `sip:${s.slice(s.indexOf(':') + 1, at)}@${s.slice(at + 1).toLowerCase()}`;
  });

/** Placeholders of a BLA presentity template (the dialog;sla package fills them in from the SUBSCRIBE). */
const BLA_PLACEHOLDERS = ['contact.user', 'from.user', 'from.host', 'to.user', 'to.host', 'ruri.user', 'ruri.host'];
const BLA_FORM = `expected a SIP URI template such as sip:{contact.user}@{from.host} (placeholders: ${BLA_PLACEHOLDERS.map((p) => `{${p}}`).join(' ')})`;

const blaTemplate = z
  .string({ error: BLA_FORM })
  .regex(/^sips?:[^\s<>"]+$/i, { error: BLA_FORM })
  .refine((t) => [...t.matchAll(/\{([^{}]*)\}/g)].every((m) => BLA_PLACEHOLDERS.includes(m[1]!)), { error: BLA_FORM });

/** The whole configuration. Unknown keys are errors: a typo must never be silently ignored. */
export const configSchema = z
  .strictObject({
    listen: documented(listenSchema, {
      description:
        'SIP listeners. Each is TRANSPORT:HOST:PORT (udp or tcp; IPv6 as udp:[::1]:5060) or {transport, host, port}. Setting it replaces the default list. Port 0 picks a free port.',
      type: 'list of udp|tcp:HOST:PORT',
      kind: 'list',
      defaultText: 'udp:0.0.0.0:5060, tcp:0.0.0.0:5060',
    }),
    db: documented(dbSchema, {
      description:
        'Storage. sqlite:PATH (the directory is created at start; relative paths are relative to the working directory) or postgres://... (accepted, but PostgreSQL is not yet available).',
      type: 'sqlite:PATH | postgres://...',
      kind: 'string',
    }),
    http: documented(httpSchema, {
      description: 'HTTP API and metrics listener as HOST:PORT, or off to disable it.',
      type: 'HOST:PORT | off',
      kind: 'nullable',
      defaultText: '127.0.0.1:8080',
    }),
    domain: documented(domainName.optional(), {
      description:
        'The SIP domain served. When unset, requests for any domain are accepted; when set, only this domain and those in domains.',
      type: 'string',
      kind: 'string',
      defaultText: '(none: any domain)',
    }),
    domains: documented(z.array(domainName, { error: 'expected a list of domain names' }).default([]), {
      description: 'Further domains served besides domain.',
      type: 'list of strings',
      kind: 'list',
    }),
    logLevel: documented(
      z.enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.join(', ')}` }).default('info'),
      { description: 'Minimum level written to the JSON log on stdout.', type: LOG_LEVELS.join('|'), kind: 'string' },
    ),
    cleanPeriod: documented(wholeNumber(1).default(10), {
      description: 'Seconds between sweeps that remove expired publications and subscriptions.',
      type: 'seconds',
      kind: 'number',
    }),
    expiresOffset: documented(wholeNumber(0).default(0), {
      description:
        'Seconds a publication is kept past the Expires granted in the 200 to its PUBLISH (Kamailio expires_offset), so that a refresh arriving a little late still finds it.',
      type: 'seconds',
      kind: 'number',
    }),
    maxExpiresSubscribe: documented(wholeNumber(1).default(3600), {
      description: 'Largest Expires granted to a SUBSCRIBE; larger requests are lowered to this value.',
      type: 'seconds',
      kind: 'number',
    }),
    maxExpiresPublish: documented(wholeNumber(1).default(3600), {
      description: 'Largest Expires granted to a PUBLISH; larger requests are lowered to this value.',
      type: 'seconds',
      kind: 'number',
    }),
    minExpires: documented(wholeNumber(1).default(60), {
      description:
        'Smallest non-zero Expires accepted for PUBLISH and SUBSCRIBE; shorter requests get 423 Interval Too Brief with Min-Expires.',
      type: 'seconds',
      kind: 'number',
    }),
    serverAddress: documented(
      z
        .string({ error: SIP_URI_FORM })
        .regex(/^sips?:[^\s<>"]+$/i, { error: SIP_URI_FORM })
        .optional(),
      {
        description:
          'SIP URI used as Contact in replies and NOTIFYs. When unset it is derived from the first listener.',
        type: 'SIP URI',
        kind: 'string',
        defaultText: '(derived from the first listener)',
      },
    ),
    notifyOfflineBody: documented(bool().default(false), {
      description:
        'When a presentity has no publication, send watchers an offline (closed) body instead of an empty NOTIFY.',
      type: 'boolean',
      kind: 'boolean',
    }),
    endSubOnTimeout: documented(bool().default(true), {
      description: 'Terminate a subscription when a NOTIFY to its watcher times out (no response).',
      type: 'boolean',
      kind: 'boolean',
    }),
    subscribeReplyCode: documented(
      z
        .union([z.literal(200), z.literal(202)], { error: 'expected 200 or 202' })
        .default(200),
      {
        description: 'Status code of a successful SUBSCRIBE: 200 OK or 202 Accepted.',
        type: '200|202',
        kind: 'number',
      },
    ),
    forceActive: documented(bool().default(true), {
      description:
        'Accept new presence subscriptions as active without an authorization rule; when false they stay pending until allowed.',
      type: 'boolean',
      kind: 'boolean',
    }),
    notifyRecoveryRate: documented(wholeNumber(1).default(200), {
      description:
        'NOTIFYs per second when re-notifying all watchers after a restart, so recovery does not flood the network.',
      type: 'NOTIFYs/s',
      kind: 'number',
    }),
    notifyMinInterval: documented(wholeNumber(0, 3_600_000).default(0), {
      description:
        'Smallest interval between two NOTIFYs of one subscription; changes in between are merged into the next one. 0 sends each change as soon as the previous NOTIFY is answered. RFC 3856 section 6.10 suggests 5000 for presence.',
      type: 'ms',
      kind: 'number',
    }),
    maxMessageSize: documented(wholeNumber(1024, 16 * 1024 * 1024).default(65536), {
      description: 'Largest SIP message accepted, in bytes; larger ones are rejected (413 or dropped for UDP).',
      type: 'bytes',
      kind: 'number',
    }),
    tcpIdleTimeout: documented(wholeNumber(1).default(600), {
      description: 'Seconds after which an idle TCP connection is closed.',
      type: 'seconds',
      kind: 'number',
    }),
    maxConnectionsPerSource: documented(wholeNumber(1).default(64), {
      description: 'Most TCP connections accepted from one source IP address.',
      type: 'number',
      kind: 'number',
    }),
    maxConnections: documented(wholeNumber(1).default(10000), {
      description: 'Most TCP connections open at once.',
      type: 'number',
      kind: 'number',
    }),
    udpReceiveBuffer: documented(wholeNumber(0).default(4194304), {
      description: 'UDP socket receive buffer in bytes (SO_RCVBUF); 0 keeps the operating system default.',
      type: 'bytes',
      kind: 'number',
    }),
    userAgent: documented(
      z
        .string({ error: 'expected a string' })
        // The value goes into the Server/User-Agent header verbatim: no control characters, so no header injection.
        .regex(/^[\x20-\x7e]+$/, { error: 'expected printable ASCII text without line breaks' })
        .default(`presenced/${presencedVersion()}`),
      {
        description: 'Value of the Server header in responses and User-Agent header in requests.',
        type: 'string',
        kind: 'string',
        defaultText: 'presenced/<version>',
      },
    ),
    auth: z
      .strictObject({
        mode: documented(z.enum(['auto', 'on', 'off'], { error: 'expected auto, on or off' }).default('auto'), {
          description:
            'Digest authentication (RFC 3261 §22). auto: open while no user exists (a start-up warning says so), required once users exist; on: always required (nobody gets in without users); off: never (also --auth off).',
          type: 'auto|on|off',
          kind: 'string',
        }),
        register: documented(bool().default(true), {
          description: 'REGISTER needs authentication when it is enforced.',
          type: 'boolean',
          kind: 'boolean',
        }),
        publish: documented(bool().default(true), {
          description:
            'PUBLISH needs authentication when it is enforced; an authenticated user may then publish only its own presentity (403) unless it is a trusted publisher.',
          type: 'boolean',
          kind: 'boolean',
        }),
        subscribe: documented(bool().default(false), {
          description:
            'SUBSCRIBE needs authentication when it is enforced; the authenticated user is then the watcher identity pres-rules decide on (otherwise the From URI, which anyone can write).',
          type: 'boolean',
          kind: 'boolean',
        }),
        proxy: documented(bool().default(true), {
          description:
            'Requests the proxy routes for a caller whose From is in our domains (initial INVITE, MESSAGE, REFER ...) need authentication when it is enforced: 407 with Proxy-Authenticate (RFC 3261 §22.3), and the authenticated user must be the From (403). In-dialog requests, ACK, CANCEL and calls from other domains to our users are not challenged; requests from other domains for other domains are refused.',
          type: 'boolean',
          kind: 'boolean',
        }),
        trustedPublishers: documented(z.array(sipAor, { error: 'expected a list of SIP addresses (sip:user@domain)' }).default([]), {
          description: 'Users allowed to PUBLISH for any presentity (voicemail, PBX or gateway accounts), as sip:user@domain.',
          type: 'list of SIP AORs',
          kind: 'list',
        }),
        algorithms: documented(
          z
            .array(z.enum(['SHA-256', 'MD5'], { error: 'expected SHA-256 or MD5' }), { error: 'expected a list of SHA-256, MD5' })
            .min(1, { error: 'expected at least one algorithm' })
            .refine((l) => new Set(l).size === l.length, { error: 'each algorithm at most once' })
            .default(['SHA-256', 'MD5']),
          {
            description:
              'Digest algorithms offered, one WWW-Authenticate each, most preferred first (RFC 8760). Use MD5 alone for phones that fail on a challenge they do not know instead of skipping it (baresip/libre 1.x).',
            type: 'list of SHA-256|MD5',
            kind: 'list',
            defaultText: 'SHA-256, MD5',
          },
        ),
        nonceTtl: documented(wholeNumber(10, 3600).default(300), {
          description: 'Seconds a digest nonce stays valid; a client answering an older one gets a new challenge with stale=true.',
          type: 'seconds',
          kind: 'number',
        }),
        maxFailures: documented(wholeNumber(1).default(10), {
          description: 'Failed authentications from one source address within failureWindow that block it (brute-force protection).',
          type: 'number',
          kind: 'number',
        }),
        failureWindow: documented(wholeNumber(1).default(60), {
          description: 'Seconds over which failed authentications of one source are counted.',
          type: 'seconds',
          kind: 'number',
        }),
        blockTime: documented(wholeNumber(1).default(300), {
          description: 'Seconds a blocked source gets 403 for every request that needs authentication.',
          type: 'seconds',
          kind: 'number',
        }),
      }, { error: 'expected a mapping with keys mode, register, publish, subscribe, proxy, trustedPublishers, algorithms, nonceTtl, maxFailures, failureWindow, blockTime' })
      .prefault({}),
    registrar: z
      .strictObject({
        enabled: documented(bool().default(true), {
          description: 'Act as registrar (RFC 3261 §10.3) for the served domains; off: REGISTER gets 405.',
          type: 'boolean',
          kind: 'boolean',
        }),
        minExpires: documented(wholeNumber(1).default(60), {
          description: 'Shortest registration accepted; shorter non-zero requests get 423 Interval Too Brief with Min-Expires.',
          type: 'seconds',
          kind: 'number',
        }),
        maxExpires: documented(wholeNumber(1).default(3600), {
          description: 'Longest registration granted; longer requests are lowered to this.',
          type: 'seconds',
          kind: 'number',
        }),
        defaultExpires: documented(wholeNumber(1).default(3600), {
          description: 'Registration time granted when neither the Contact nor the REGISTER says.',
          type: 'seconds',
          kind: 'number',
        }),
        maxContacts: documented(wholeNumber(1, 1000).default(10), {
          description: 'Bindings one address of record may hold; a REGISTER that would add more gets 403.',
          type: 'number',
          kind: 'number',
        }),
        regEvent: documented(bool().default(true), {
          description:
            'Serve the reg event package (RFC 3680): a user may subscribe to its own registration state (application/reginfo+xml).',
          type: 'boolean',
          kind: 'boolean',
        }),
      }, { error: 'expected a mapping with keys enabled, minExpires, maxExpires, defaultExpires, maxContacts, regEvent' })
      .prefault({}),
    presenceFromRegistration: z
      .strictObject({
        enabled: documented(bool().default(false), {
          description:
            'Presence from registration (pua_usrloc): while a user has a binding its presence has a tuple "open", when the last one ends or expires "closed"; merged with what its devices publish.',
          type: 'boolean',
          kind: 'boolean',
        }),
        users: documented(z.array(sipAor, { error: 'expected a list of SIP addresses (sip:user@domain)' }).default([]), {
          description: 'Only these users (with domains: these users and the users of those domains). Both empty: every user.',
          type: 'list of SIP AORs',
          kind: 'list',
        }),
        domains: documented(z.array(domainName, { error: 'expected a list of domain names' }).default([]), {
          description: 'Only the users of these domains (see users).',
          type: 'list of strings',
          kind: 'list',
        }),
      }, { error: 'expected a mapping with keys enabled, users, domains' })
      .prefault({}),
    proxy: z
      .strictObject({
        enabled: documented(bool().default(true), {
          description:
            'Forward calls and messages (INVITE, ACK, BYE, CANCEL, UPDATE, INFO, MESSAGE, REFER, PRACK) between registered users as a stateful proxy (RFC 3261 §16, docs/proxy.md). Effective only with registrar.enabled; off: these methods get 405.',
          type: 'boolean',
          kind: 'boolean',
        }),
        timerC: documented(wholeNumber(181, 3600).default(185), {
          description: 'Timer C (RFC 3261 §16.6 step 11, more than 3 minutes): a branch ringing this long without a final response is cancelled.',
          type: 'seconds',
          kind: 'number',
        }),
        overloadThreshold: documented(wholeNumber(0, 100).default(95), {
          description:
            'New calls get 503 with Retry-After while the event loop has been busy this share of the last 500 ms (percent; 0: never), so that the calls already set up keep their ACK and BYE on time (docs/proxy.md, Load). In-dialog requests are always served.',
          type: 'percent',
          kind: 'number',
        }),
      }, { error: 'expected a mapping with keys enabled, timerC, overloadThreshold' })
      .prefault({}),
    calls: z
      .strictObject({
        publishDialogs: documented(bool().default(true), {
          description:
            'Presence from calls (pua_dialoginfo): publish dialog-info (RFC 4235) for the caller and the callee of each call through the proxy, for BLF watchers and mixDialogPresence.',
          type: 'boolean',
          kind: 'boolean',
        }),
        maxDuration: documented(wholeNumber(60).default(14400), {
          description:
            'A confirmed call with no BYE seen (and no RFC 4028 session timer, which ends it sooner) is considered ended after this long.',
          type: 'seconds',
          kind: 'number',
        }),
        earlyTimeout: documented(wholeNumber(30).default(300), {
          description: 'A call still trying or ringing after this long is considered ended.',
          type: 'seconds',
          kind: 'number',
        }),
      }, { error: 'expected a mapping with keys publishDialogs, maxDuration, earlyTimeout' })
      .prefault({}),
    api: z
      .strictObject({
        tokens: documented(
          z
            .array(
              z
                .string({ error: 'expected a string' })
                .regex(/^[\x21-\x7e]+$/, { error: 'expected a token without spaces or control characters' }),
              { error: 'expected a list of tokens' },
            )
            .default([]),
          {
            description:
              'Bearer tokens accepted by the HTTP API (Authorization: Bearer TOKEN). Prefer PRESENCED_API_TOKENS or the file over --set, which ps can show.',
            type: 'list of strings',
            kind: 'list',
            defaultText: '(none)',
            secret: true,
          },
        ),
        webhooks: documented(
          z.array(webhookEntry, { error: 'expected a list of webhooks' }).max(32, { error: 'at most 32 webhooks' }).default([]),
          {
            description:
              'Webhooks: each receives the API events (publish, unpublish, exposed, subscription-created, subscription-terminated, notify-failed, notify-in) as JSON POSTs, retried with back-off from a bounded queue. Each entry is a URL, or a mapping {url, types, events, presentity, secret} that filters by event type, event package and presentity glob and signs with HMAC-SHA256 (X-Presenced-Signature). From the environment or --set: comma-separated URLs. See docs/api.md.',
            type: 'list of URLs or mappings',
            kind: 'list',
            defaultText: '(none)',
            secret: true,
          },
        ),
      }, { error: 'expected a mapping with keys tokens, webhooks' })
      .prefault({}),
    mixDialogPresence: documented(bool().default(false), {
      description:
        'Presence mixed from calls: while a presentity has a confirmed or early dialog (dialog event package), its presence NOTIFYs show the RPID activity on-the-phone and the note "On the phone", even when nothing is published for presence.',
      type: 'boolean',
      kind: 'boolean',
    }),
    sphereCheck: documented(bool().default(false), {
      description:
        'Honour <sphere> conditions of pres-rules (RFC 4745 §7.2) with the sphere the presentity publishes (RPID); watchers are re-evaluated when it changes. Off: sphere conditions always match.',
      type: 'boolean',
      kind: 'boolean',
    }),
    waitingSubsDays: documented(wholeNumber(0, 30).default(3), {
      description:
        'Days a pending or waiting watcher (RFC 3857) is remembered after its subscription ended, so the presentity still sees it in presence.winfo and can allow it.',
      type: 'days',
      kind: 'number',
    }),
    bla: z
      .strictObject({
        presentity: documented(blaTemplate.optional(), {
          description:
            'Presentity of a dialog;sla (Bridged Line Appearance) SUBSCRIBE, as a template with {contact.user} {from.user} {from.host} {to.user} {to.host} {ruri.user} {ruri.host}.',
          type: 'SIP URI template',
          kind: 'string',
          defaultText: 'sip:{contact.user}@{from.host}',
        }),
        fixRemoteTarget: documented(bool().default(true), {
          description: 'In dialog;sla NOTIFYs, replace the remote target (a phone IP address) with the remote identity.',
          type: 'boolean',
          kind: 'boolean',
        }),
        trustSender: documented(bool().default(true), {
          description:
            'Take the Sender header of a dialog;sla PUBLISH as the publishing phone, which is then not notified of its own change. Turn off when untrusted clients can PUBLISH directly (anyone could then silence another phone\'s update).',
          type: 'boolean',
          kind: 'boolean',
        }),
      }, { error: 'expected a mapping with keys presentity, fixRemoteTarget, trustSender' })
      .prefault({}),
    dialog: z
      .strictObject({
        singleDialog: documented(bool().default(false), {
          description:
            'Put only the most relevant dialog in each dialog-info NOTIFY, for phones that break on several <dialog> elements.',
          type: 'boolean',
          kind: 'boolean',
        }),
      }, { error: 'expected a mapping with key singleDialog' })
      .prefault({}),
    mwi: z
      .strictObject({
        subscribers: documented(
          z.enum(['self', 'any'], { error: 'expected self or any' }).default('self'),
          {
            description:
              'Who may subscribe to a mailbox (message-summary) when forceActive is false: self, only the account owner (RFC 3842 §6); any, everyone (shared mailboxes).',
            type: 'self|any',
            kind: 'string',
          },
        ),
      }, { error: 'expected a mapping with key subscribers' })
      .prefault({}),
  }, { error: 'expected a mapping of configuration keys' })
  .superRefine((c, ctx) => {
    for (const key of ['maxExpiresSubscribe', 'maxExpiresPublish'] as const) {
      if (c.minExpires > c[key]) {
        ctx.addIssue({
          code: 'custom',
          path: ['minExpires'],
          message: `must not exceed ${key} (${c[key]})`,
          input: c.minExpires,
        });
      }
    }
    if (c.registrar.minExpires > c.registrar.maxExpires) {
      ctx.addIssue({
        code: 'custom',
        path: ['registrar', 'minExpires'],
        message: `must not exceed registrar.maxExpires (${c.registrar.maxExpires})`,
        input: c.registrar.minExpires,
      });
    }
    if (c.registrar.defaultExpires < c.registrar.minExpires) {
      ctx.addIssue({
        code: 'custom',
        path: ['registrar', 'defaultExpires'],
        message: `must not be below registrar.minExpires (${c.registrar.minExpires})`,
        input: c.registrar.defaultExpires,
      });
    }
    // Cross-key rules only make sense once every key is valid on its own: no second error for one mistake.
  }, { when: (payload) => payload.issues.length === 0 });

// Compile-time guarantee that the hand-written interface and the schema agree in both directions.
type SchemaOutput = z.output<typeof configSchema>;
const schemaMatchesInterface = (c: SchemaOutput): PresencedConfig => c;
const interfaceMatchesSchema = (c: PresencedConfig): SchemaOutput => c;
void schemaMatchesInterface;
void interfaceMatchesSchema;

/** A leaf configuration key, addressed by its dotted path (`maxExpiresPublish`, `api.tokens`). */
export interface ConfigKey extends KeyDoc {
  path: string;
  /** Environment variable that sets it. */
  env: string;
}

function unwrapObject(schema: z.ZodType): z.ZodObject | undefined {
  let cur: z.ZodType = schema;
  for (let i = 0; i < 4; i++) {
    if (cur instanceof z.ZodObject) return cur;
    if (cur instanceof z.ZodDefault || cur instanceof z.ZodPrefault || cur instanceof z.ZodOptional) {
      cur = cur.unwrap() as z.ZodType;
    } else {
      return undefined;
    }
  }
  return undefined;
}

/** `maxExpiresPublish` -> `MAX_EXPIRES_PUBLISH`, `api.tokens` -> `API_TOKENS`. */
export function envSuffix(path: string): string {
  return path
    .split('.')
    .map((part) => part.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase())
    .join('_');
}

export const ENV_PREFIX = 'PRESENCED_';

function collectKeys(shape: Record<string, z.ZodType>, prefix: string, out: ConfigKey[]): void {
  for (const [name, schema] of Object.entries(shape)) {
    const path = prefix + name;
    const doc = keyDocs.get(schema);
    if (doc) {
      out.push({ ...doc, path, env: ENV_PREFIX + envSuffix(path) });
      continue;
    }
    const group = unwrapObject(schema);
    if (!group) throw new Error(`config schema: key ${path} has no documentation`);
    collectKeys(group.shape as Record<string, z.ZodType>, `${path}.`, out);
  }
}

let keyList: readonly ConfigKey[] | undefined;

/** Every leaf key of the configuration, in schema order. */
export function configKeys(): readonly ConfigKey[] {
  if (!keyList) {
    const out: ConfigKey[] = [];
    // configSchema is wrapped by superRefine, which keeps the object's shape reachable.
    collectKeys(configSchema.shape as Record<string, z.ZodType>, '', out);
    keyList = out;
  }
  return keyList;
}

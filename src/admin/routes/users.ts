/**
 * SIP users (digest credentials) and registrations (the registrar's bindings). The server passes an
 * `AccountsAdmin` built on src/auth UserDirectory and src/registrar LocationService; passwords go in, only
 * H(A1) values are stored, and nothing secret ever comes out.
 */
import { z } from 'zod';
import type { AdminContext } from '../context.js';
import { ApiError } from '../errors.js';
import { Domain, Limit, Offset, Uri } from '../inputs.js';
import { errorResponses } from '../zod-route.js';

export interface UserItem {
  readonly aor: string;
  readonly username: string;
  readonly realm: string;
  /** Unix epoch ms. */
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface RegistrationItem {
  readonly aor: string;
  readonly contact: string;
  readonly uri: string;
  readonly q: number | undefined;
  readonly instance: string | undefined;
  readonly regId: number | undefined;
  /** Unix epoch ms. */
  readonly expiresAt: number;
  readonly registeredAt: number;
  readonly callId: string;
  readonly cseq: number;
  readonly path: readonly string[];
  readonly userAgent: string | undefined;
  readonly flow: { readonly protocol: 'udp' | 'tcp'; readonly address: string; readonly port: number };
}

/** What the routes need; a thrown error with `code` AUTH_ERR_* is the caller's mistake (400). */
export interface AccountsAdmin {
  listUsers(opts: { domain?: string; limit: number; offset: number }): { items: readonly UserItem[]; total: number };
  setUser(aor: string, password: string): Promise<{ created: boolean; user: UserItem }>;
  deleteUser(aor: string): Promise<boolean>;
  listRegistrations(opts: { aor?: string; limit: number; offset: number }): { items: readonly RegistrationItem[]; total: number };
}

const UserSchema = z.object({
  aor: z.string(),
  username: z.string(),
  realm: z.string(),
  createdAt: z.string().describe('ISO 8601.'),
  updatedAt: z.string().describe('ISO 8601.'),
});

const RegistrationSchema = z.object({
  aor: z.string(),
  contact: z.string().describe('The Contact as registered (name-addr with its parameters).'),
  uri: z.string(),
  q: z.number().optional(),
  instance: z.string().optional().describe('RFC 5626 +sip.instance.'),
  regId: z.number().int().optional().describe('RFC 5626 reg-id.'),
  expires: z.number().int().describe('Seconds left.'),
  expiresAt: z.string(),
  registeredAt: z.string(),
  callId: z.string(),
  cseq: z.number().int(),
  path: z.array(z.string()),
  userAgent: z.string().optional(),
  flow: z.object({ protocol: z.enum(['udp', 'tcp']), address: z.string(), port: z.number().int() }),
});

const Password = z
  .string()
  .min(1, { error: 'the password must not be empty' })
  .max(256, { error: 'the password must be at most 256 characters' })
  .describe('Stored as H(A1) for MD5 and SHA-256 only (RFC 7616 §5.1); never returned.');

const iso = (ms: number): string => new Date(ms).toISOString();

function userView(u: UserItem): z.output<typeof UserSchema> {
  return { aor: u.aor, username: u.username, realm: u.realm, createdAt: iso(u.createdAt), updatedAt: iso(u.updatedAt) };
}

function inputError(error: unknown): never {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('AUTH_ERR_')) throw new ApiError('API_ERR_BAD_REQUEST', (error as Error).message);
  throw error;
}

export function userRoutes(ctx: AdminContext, accounts: AccountsAdmin): void {
  ctx.route({
    method: 'GET',
    url: '/api/users',
    operationId: 'listUsers',
    summary: 'List SIP users (digest credentials are never shown).',
    tags: ['users'],
    querystring: z.strictObject({ domain: Domain.optional(), limit: Limit, offset: Offset }),
    responses: {
      200: {
        description: 'One page of users, by AOR.',
        schema: z.object({ items: z.array(UserSchema), total: z.number().int(), limit: z.number().int(), offset: z.number().int() }),
      },
      ...errorResponses(400, 401),
    },
    handler: ({ query }) => {
      const page = accounts.listUsers({ ...(query.domain !== undefined && { domain: query.domain }), limit: query.limit, offset: query.offset });
      return { items: page.items.map(userView), total: page.total, limit: query.limit, offset: query.offset };
    },
  });

  ctx.route({
    method: 'POST',
    url: '/api/users',
    operationId: 'setUser',
    summary: 'Create a SIP user, or set a new password for an existing one (201 created, 200 replaced).',
    tags: ['users'],
    body: z.strictObject({ aor: Uri, password: Password }),
    responses: {
      200: { description: 'Password replaced.', schema: UserSchema },
      201: { description: 'User created.', schema: UserSchema },
      ...errorResponses(400, 401),
    },
    handler: async ({ body }, _request, reply) => {
      let r: { created: boolean; user: UserItem };
      try {
        r = await accounts.setUser(body.aor, body.password);
      } catch (error) {
        inputError(error);
      }
      void reply.status(r.created ? 201 : 200);
      return userView(r.user);
    },
  });

  ctx.route({
    method: 'DELETE',
    url: '/api/users/:aor',
    operationId: 'deleteUser',
    summary: 'Delete a SIP user. Its registrations stay until they expire or are removed.',
    tags: ['users'],
    params: z.strictObject({ aor: Uri }),
    responses: {
      200: { description: 'Deleted.', schema: z.object({ deleted: z.literal(true) }) },
      ...errorResponses(400, 401, 404),
    },
    handler: async ({ params }) => {
      let deleted: boolean;
      try {
        deleted = await accounts.deleteUser(params.aor);
      } catch (error) {
        inputError(error);
      }
      if (!deleted) throw new ApiError('API_ERR_NOT_FOUND', `no user ${params.aor}`);
      return { deleted: true as const };
    },
  });

  ctx.route({
    method: 'GET',
    url: '/api/registrations',
    operationId: 'listRegistrations',
    summary: "The registrar's live bindings (OpenSIPS ul_dump), by AOR then preference.",
    tags: ['users'],
    querystring: z.strictObject({ aor: Uri.optional(), limit: Limit, offset: Offset }),
    responses: {
      200: {
        description: 'One page of bindings.',
        schema: z.object({ items: z.array(RegistrationSchema), total: z.number().int(), limit: z.number().int(), offset: z.number().int() }),
      },
      ...errorResponses(400, 401),
    },
    handler: ({ query }) => {
      const now = ctx.now();
      const page = accounts.listRegistrations({ ...(query.aor !== undefined && { aor: query.aor }), limit: query.limit, offset: query.offset });
      return {
        items: page.items.map((b) => ({
          aor: b.aor,
          contact: b.contact,
          uri: b.uri,
          ...(b.q !== undefined && { q: b.q }),
          ...(b.instance !== undefined && { instance: b.instance }),
          ...(b.regId !== undefined && { regId: b.regId }),
          expires: Math.max(0, Math.round((b.expiresAt - now) / 1000)),
          expiresAt: iso(b.expiresAt),
          registeredAt: iso(b.registeredAt),
          callId: b.callId,
          cseq: b.cseq,
          path: [...b.path],
          ...(b.userAgent !== undefined && { userAgent: b.userAgent }),
          flow: { protocol: b.flow.protocol, address: b.flow.address, port: b.flow.port },
        })),
        total: page.total,
        limit: query.limit,
        offset: query.offset,
      };
    },
  });
}

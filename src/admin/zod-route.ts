/**
 * Routes declared with zod schemas. One zod schema per request part serves three purposes: it validates
 * (with zod's messages, so a 400 says what is wrong), it types the handler's input, and its JSON Schema
 * (z.toJSONSchema, OpenAPI 3.0 dialect) documents the route in /openapi.json through @fastify/swagger.
 *
 * fastify clones route schemas before compiling, so validators are found by (method, url, part) instead of
 * by schema identity.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from 'fastify';
import { z } from 'zod';
import { ApiError, API_ERRORS, type ApiErrorCode } from './errors.js';

type HttpPart = 'params' | 'querystring' | 'body' | 'headers';

/** A response documented in OpenAPI; the schema is documentation only (responses are serialized with JSON.stringify). */
export interface ResponseDoc {
  description: string;
  schema?: z.ZodType;
  /** Media type when not JSON (text/plain for /metrics, text/event-stream, text/html). */
  contentType?: string;
}

export interface RouteSpec<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  method: 'GET' | 'POST' | 'DELETE';
  url: string;
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  /** Open routes need no bearer token even when tokens are configured. */
  open?: boolean;
  /** Left out of /openapi.json (static assets). */
  hidden?: boolean;
  params?: P;
  querystring?: Q;
  body?: B;
  responses: Record<number, ResponseDoc>;
  handler(
    input: { params: z.output<P>; query: z.output<Q>; body: z.output<B> },
    request: FastifyRequest,
    reply: FastifyReply,
  ): unknown;
}

const ErrorSchema = z
  .object({
    error: z.object({
      code: z.enum(Object.keys(API_ERRORS) as [ApiErrorCode, ...ApiErrorCode[]]),
      message: z.string(),
    }),
  })
  .describe('Every error response: a stable code and a human-readable message.');

/** Standard error responses, added to a route's documentation. */
export function errorResponses(...statuses: number[]): Record<number, ResponseDoc> {
  const out: Record<number, ResponseDoc> = {};
  for (const s of statuses) out[s] = { description: ERROR_DESCRIPTIONS[s] ?? 'Error', schema: ErrorSchema };
  return out;
}

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input; the message names the field.',
  401: 'Missing or invalid bearer token.',
  404: 'No such resource.',
  412: 'The ETag does not match a live publication.',
  415: 'Unsupported media type.',
  422: 'Unknown or non-publishable event package.',
  429: 'A limit is reached (concurrent event streams, subscriptions held).',
  503: 'Not ready.',
};

function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  // OpenAPI 3.0 dialect: @fastify/swagger emits 3.0.3, and `nullable` is what 3.0 readers understand.
  const js = z.toJSONSchema(schema, { target: 'openapi-3.0', io, unrepresentable: 'any' }) as Record<string, unknown>;
  delete js['$schema'];
  return js;
}

/** Formats zod issues as `where: what` pairs, naming the request part the way a caller wrote it. */
export function describeIssues(part: string, error: z.ZodError): string {
  const where = part === 'querystring' ? 'query parameter' : part === 'params' ? 'path parameter' : 'body';
  return error.issues
    .slice(0, 5)
    .map((i) => {
      const path = i.path.map(String).join('.');
      if (part === 'body') return path === '' ? `body: ${i.message}` : `body.${path}: ${i.message}`;
      return path === '' ? `${where}: ${i.message}` : `${where} ${path}: ${i.message}`;
    })
    .join('; ');
}

/** Installs zod validation on a fastify app and returns the function that declares routes. */
export function zodRoutes(app: FastifyInstance): {
  route<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType>(spec: RouteSpec<P, Q, B>): void;
  isOpen(method: string, url: string): boolean;
  /** Marks a route declared directly on fastify as open. */
  markOpen(method: string, url: string): void;
} {
  const validators = new Map<string, z.ZodType>();
  const open = new Set<string>();

  app.setValidatorCompiler(({ method, url, httpPart }) => {
    const schema = validators.get(`${method} ${url} ${httpPart}`);
    if (schema === undefined) return () => true;
    const part = httpPart ?? 'body';
    return (data: unknown) => {
      const result = schema.safeParse(data);
      if (result.success) return { value: result.data };
      return { error: new ApiError('API_ERR_BAD_REQUEST', describeIssues(part, result.error)) };
    };
  });
  // Response schemas only document: handlers return exactly what the API promises, and JSON.stringify
  // avoids fast-json-stringify silently dropping fields that a schema forgot.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  return {
    route(spec) {
      const schema: FastifySchema & Record<string, unknown> = {
        operationId: spec.operationId,
        summary: spec.summary,
        tags: spec.tags,
        response: {},
      };
      if (spec.description !== undefined) schema.description = spec.description;
      if (spec.hidden === true) schema['hide'] = true;
      if (spec.open !== true) schema['security'] = [{ bearerAuth: [] }];
      else schema['security'] = [];
      const parts: Array<[HttpPart, z.ZodType | undefined]> = [
        ['params', spec.params],
        ['querystring', spec.querystring],
        ['body', spec.body],
      ];
      for (const [part, zs] of parts) {
        if (zs === undefined) continue;
        schema[part] = jsonSchemaOf(zs, 'input');
        for (const m of spec.method === 'GET' ? ['GET', 'HEAD'] : [spec.method]) {
          validators.set(`${m} ${spec.url} ${part}`, zs);
        }
      }
      const response = schema.response as Record<string, unknown>;
      for (const [status, doc] of Object.entries(spec.responses)) {
        if (doc.schema === undefined) {
          response[status] = {
            description: doc.description,
            content: { [doc.contentType ?? 'application/json']: { schema: { type: 'string' } } },
          };
        } else {
          response[status] = { description: doc.description, ...jsonSchemaOf(doc.schema, 'output') };
        }
      }
      if (spec.open === true) open.add(`${spec.method} ${spec.url}`);
      app.route({
        method: spec.method,
        url: spec.url,
        schema,
        handler: (request, reply) =>
          spec.handler(
            {
              params: request.params as z.output<typeof spec.params & z.ZodType>,
              query: request.query as z.output<typeof spec.querystring & z.ZodType>,
              body: request.body as z.output<typeof spec.body & z.ZodType>,
            },
            request,
            reply,
          ),
      });
    },
    markOpen(method, url) {
      open.add(`${method} ${url}`);
    },
    isOpen(method, url) {
      return open.has(`${method === 'HEAD' ? 'GET' : method} ${url}`);
    },
  };
}

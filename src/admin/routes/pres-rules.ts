/**
 * XCAP-style management of pres-rules documents (RFC 4825 whole-document operations, RFC 5025 application
 * usage): GET, PUT and DELETE of `/xcap-root/pres-rules/users/{xui}/index`, with entity-tags and the
 * If-Match / If-None-Match preconditions of RFC 4825 §7.11. A fastify plugin; what a document means (validation,
 * storage, re-evaluating the watchers) is behind the PresRulesDocuments port the composition root provides.
 *
 * Answers (RFC 4825 §7 and §11): 200 with the document and its ETag; 201 when a PUT creates it, 200 when it
 * replaces it; 404 when there is none; 409 with an application/xcap-error+xml body when the document is not
 * well-formed, not UTF-8 or not a valid pres-rules document; 412 when a precondition fails; 415 for another
 * media type. Node selectors (`/~~/`) are not served (404).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** HTTP preconditions, entity-tags unquoted; "*" matches any current document. */
export interface PresRulesPreconditions {
  readonly ifMatch?: readonly string[] | undefined;
  readonly ifNoneMatch?: readonly string[] | undefined;
}

export type PresRulesWriteResult =
  | { readonly ok: true; readonly etag: string; readonly created: boolean }
  | {
      readonly ok: false;
      readonly status: number;
      readonly reason: string;
      /** RFC 4825 §11 body for a 409 (application/xcap-error+xml). */
      readonly xcapError?: string | undefined;
    };

/** What the routes need; the composition root implements it with the pres-rules package and the core. */
export interface PresRulesDocuments {
  /** Media type of the documents (RFC 5025 §9.4: application/auth-policy+xml). */
  readonly contentType: string;
  /** The document of a user (XUI: the user's SIP URI), or undefined. */
  get(xui: string): { readonly etag: string; readonly body: string } | undefined;
  put(xui: string, body: string, pre: PresRulesPreconditions): Promise<PresRulesWriteResult>;
  delete(xui: string, pre: PresRulesPreconditions): Promise<PresRulesWriteResult>;
  /** The RFC 4825 §11 body for a document that is not UTF-8. */
  notUtf8(): string;
}

export interface PresRulesRoutesOptions {
  readonly documents: PresRulesDocuments;
  /** XCAP root path (RFC 4825 §6.1). Default "/xcap-root". */
  readonly root?: string;
}

const XCAP_ERROR_CONTENT_TYPE = 'application/xcap-error+xml';
const MAX_TAGS = 32;

/** An If-Match / If-None-Match value: "*" or a list of (possibly weak) quoted entity-tags (RFC 9110 §8.8.3). */
export function parseEntityTags(value: string | string[] | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const text = Array.isArray(value) ? value.join(',') : value;
  const out: string[] = [];
  for (const part of text.split(',')) {
    const t = part.trim();
    if (t === '') continue;
    if (out.length >= MAX_TAGS) break;
    if (t === '*') out.push('*');
    else out.push(t.replace(/^W\//, '').replace(/^"(.*)"$/, '$1'));
  }
  return out.length === 0 ? undefined : out;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function preconditions(request: FastifyRequest): PresRulesPreconditions {
  return {
    ifMatch: parseEntityTags(request.headers['if-match']),
    ifNoneMatch: parseEntityTags(request.headers['if-none-match']),
  };
}

function sendResult(reply: FastifyReply, r: PresRulesWriteResult, okStatus: (r: { created: boolean }) => number): FastifyReply {
  if (r.ok) return reply.status(okStatus(r)).header('etag', `"${r.etag}"`).send();
  if (r.status === 409 && r.xcapError !== undefined) return reply.status(409).type(XCAP_ERROR_CONTENT_TYPE).send(r.xcapError);
  return reply.status(r.status).type('text/plain; charset=utf-8').send(`${r.reason}\n`);
}

/** Registers the routes; use with `app.register(presRulesRoutes, { documents })`. */
export async function presRulesRoutes(app: FastifyInstance, opts: PresRulesRoutesOptions): Promise<void> {
  const docs = opts.documents;
  const root = (opts.root ?? '/xcap-root').replace(/\/$/, '');
  const path = `${root}/pres-rules/users/:xui/index`;
  // Bodies of any type reach the handler as bytes, so a wrong type is answered as XCAP does (415), not as JSON.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  const schema = { hide: true };
  app.get<{ Params: { xui: string } }>(path, { schema }, async (request, reply) => {
    const doc = docs.get(request.params.xui);
    if (doc === undefined) return reply.status(404).type('text/plain; charset=utf-8').send('No such document\n');
    return reply.status(200).type(docs.contentType).header('etag', `"${doc.etag}"`).send(doc.body);
  });

  app.put<{ Params: { xui: string }; Body: Buffer | undefined }>(path, { schema }, async (request, reply) => {
    const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== docs.contentType) {
      // RFC 4825 §8.2.1: the media type must be the application usage's.
      return reply.status(415).header('accept', docs.contentType).type('text/plain; charset=utf-8').send(`Expected ${docs.contentType}\n`);
    }
    const bytes = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    let text: string;
    try {
      text = utf8.decode(bytes);
    } catch {
      return reply.status(409).type(XCAP_ERROR_CONTENT_TYPE).send(docs.notUtf8());
    }
    const r = await docs.put(request.params.xui, text, preconditions(request));
    return sendResult(reply, r, (ok) => (ok.created ? 201 : 200));
  });

  app.delete<{ Params: { xui: string } }>(path, { schema }, async (request, reply) => {
    const r = await docs.delete(request.params.xui, preconditions(request));
    return sendResult(reply, r, () => 200);
  });
}

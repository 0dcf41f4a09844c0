/** The dashboard: GET / and its two static assets. Open routes: they contain no data. */
import { createHash } from 'node:crypto';
import type { AdminContext } from '../context.js';
import { DASHBOARD_JS } from './client.js';
import { DASHBOARD_CSS, DASHBOARD_HTML } from './page.js';

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

interface Asset {
  readonly body: string;
  readonly type: string;
  readonly etag: string;
}

function asset(body: string, type: string): Asset {
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}

export function dashboardRoutes(ctx: AdminContext): void {
  const assets: Array<[string, Asset, string]> = [
    ['/', asset(DASHBOARD_HTML, 'text/html; charset=utf-8'), 'The dashboard (HTML page; data comes from the API).'],
    ['/dashboard/app.js', asset(DASHBOARD_JS, 'text/javascript; charset=utf-8'), 'Dashboard script.'],
    ['/dashboard/app.css', asset(DASHBOARD_CSS, 'text/css; charset=utf-8'), 'Dashboard styles.'],
  ];
  for (const [url, a, summary] of assets) {
    ctx.route({
      method: 'GET',
      url,
      operationId: url === '/' ? 'dashboard' : `dashboard${url.endsWith('.js') ? 'Script' : 'Styles'}`,
      summary,
      tags: ['health'],
      open: true,
      hidden: url !== '/',
      responses: { 200: { description: summary, contentType: a.type.split(';')[0]! } },
      handler: (_input, request, reply) => {
        void reply
          .header('content-type', a.type)
          .header('cache-control', 'no-cache')
          .header('etag', a.etag)
          .header('x-content-type-options', 'nosniff')
          .header('referrer-policy', 'no-referrer');
        if (url === '/') void reply.header('content-security-policy', CSP).header('x-frame-options', 'DENY');
        if (request.headers['if-none-match'] === a.etag) return reply.status(304).send();
        return reply.send(a.body);
      },
    });
  }
}

/** Validators for the API's inputs, shared by the routes. Every bound here is a guard against hostile input. */
import { z } from 'zod';
import { API_EVENT_TYPES } from './event-hub.js';
import { MAX_PATTERN_LENGTH } from './uri-pattern.js';

/** A presentity or watcher URI: sip:, sips:, pres: or tel:, printable, bounded. */
export const Uri = z
  .string()
  .min(1, { error: 'expected a URI such as sip:alice@example.com' })
  .max(512, { error: 'URI longer than 512 characters' })
  .regex(/^(sips?|pres|tel):[\x21-\x7e]+$/i, { error: 'expected a URI such as sip:alice@example.com' })
  .describe('A presentity URI (sip:, sips:, pres: or tel:). In a path, percent-encode it (sip%3Aalice%40example.com).');

// RFC 3261 section 25.1 token characters; RFC 6665 section 8.2.1 event-type with package parameters ("dialog;sla").
const TOKEN = "[A-Za-z0-9.!%*_+`'~-]+";
export const EventName = z
  .string()
  .max(64, { error: 'event package name longer than 64 characters' })
  .regex(new RegExp(`^${TOKEN}(;${TOKEN}(=${TOKEN})?)*$`), { error: 'expected an event package name such as presence' })
  .describe('Event package (presence, dialog, message-summary ...).');

export const Domain = z
  .string()
  .max(253)
  .regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)$/, { error: 'expected a domain name or IP address' })
  .transform((s) => s.toLowerCase());

export const UriGlob = z
  .string()
  .min(1)
  .max(MAX_PATTERN_LENGTH, { error: `pattern longer than ${MAX_PATTERN_LENGTH} characters` })
  .describe('URI pattern, case-insensitive: * matches any run of characters, ? one character (sip:*@example.com).');

export const Limit = z.coerce
  .number({ error: 'expected a number' })
  .int({ error: 'expected a whole number' })
  .min(1, { error: 'expected a number between 1 and 1000' })
  .max(1000, { error: 'expected a number between 1 and 1000' })
  .default(100)
  .describe('Page size (1-1000).');

export const Offset = z.coerce
  .number({ error: 'expected a number' })
  .int({ error: 'expected a whole number' })
  .min(0, { error: 'expected a number >= 0' })
  .max(1_000_000_000)
  .default(0)
  .describe('Items skipped.');

export const QueryBool = z
  .enum(['true', 'false', '1', '0'], { error: 'expected true or false' })
  .transform((s) => s === 'true' || s === '1');

/** A comma-separated list in a query string (`type=publish,exposed`), each item checked. */
export function commaList<T extends z.ZodType<string>>(item: T, max = 16): z.ZodType<z.output<T>[], string> {
  return z
    .string()
    .max(1024)
    .transform((s, ctx) => {
      const parts = s
        .split(',')
        .map((p) => p.trim())
        .filter((p) => p !== '');
      if (parts.length > max) {
        ctx.issues.push({ code: 'custom', message: `at most ${max} values`, input: s });
        return z.NEVER;
      }
      const out: z.output<T>[] = [];
      for (const p of parts) {
        const r = item.safeParse(p);
        if (!r.success) {
          ctx.issues.push({ code: 'custom', message: `"${p}": ${r.error.issues[0]?.message ?? 'invalid'}`, input: p });
          return z.NEVER;
        }
        out.push(r.data);
      }
      return out;
    }) as unknown as z.ZodType<z.output<T>[], string>;
}

export const EventType = z.enum(API_EVENT_TYPES, { error: `expected one of ${API_EVENT_TYPES.join(', ')}` });

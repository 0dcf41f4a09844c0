/**
 * Which presentity a BLA subscription (Event: dialog;sla, draft-anil-sipping-bla) watches, and
 * which subscriber published a change.
 *
 * Phones of a bridged line subscribe with their own Request-URI, so the shared line is derived:
 * by default from the Contact user and the From domain (OpenSIPS behaviour), or from a configured
 * template (OpenSIPS bla_presentity_spec) when an SBC rewrites the Contact.
 */
import { aorKey, isSipParseError, parseNameAddr, parseUri, uriEquals, type SipUri } from '../../sip/index.js';

/** The parsed parts of a SUBSCRIBE a template may use. */
export interface BlaSubscribeView {
  readonly requestUri: SipUri;
  readonly from: SipUri;
  readonly to: SipUri;
  /** The first Contact URI; undefined when the request had none. */
  readonly contact: SipUri | undefined;
}

/** Placeholders of a presentity template. */
const PLACEHOLDERS = ['contact.user', 'from.user', 'from.host', 'to.user', 'to.host', 'ruri.user', 'ruri.host'] as const;
type Placeholder = (typeof PLACEHOLDERS)[number];

/** The default: Contact user at the From domain. */
export const DEFAULT_BLA_PRESENTITY = 'sip:{contact.user}@{from.host}';

const SLOT = /\{([^{}]*)\}/g;

/**
 * Checks a template once, at configuration time: every `{...}` must be a known placeholder and the
 * result must be able to form a SIP URI. Returns an error message, or undefined when usable.
 */
export function checkBlaPresentityTemplate(template: string): string | undefined {
  for (const m of template.matchAll(SLOT)) {
    if (!(PLACEHOLDERS as readonly string[]).includes(m[1]!)) {
      return `unknown placeholder {${m[1]}} in BLA presentity template (known: ${PLACEHOLDERS.map((p) => `{${p}}`).join(' ')})`;
    }
  }
  const sample = template.replace(SLOT, (_all, name: string) => (name.endsWith('.host') ? 'example.com' : 'user'));
  const u = parseUri(sample);
  if (isSipParseError(u) || u.scheme === 'tel') return `BLA presentity template "${template}" does not form a SIP URI`;
  return undefined;
}

function value(view: BlaSubscribeView, name: Placeholder): string | undefined {
  switch (name) {
    case 'contact.user':
      return view.contact?.user;
    case 'from.user':
      return view.from.user;
    case 'from.host':
      return view.from.host;
    case 'to.user':
      return view.to.user;
    case 'to.host':
      return view.to.host;
    case 'ruri.user':
      return view.requestUri.user;
    case 'ruri.host':
      return view.requestUri.host;
  }
}

/**
 * The presentity AOR ("sip:user@host", the core's key form) for a dialog;sla SUBSCRIBE, or
 * undefined when the parts the template needs are missing (no Contact, a Contact without user):
 * the core should then answer 400.
 */
export function blaPresentity(view: BlaSubscribeView, template: string = DEFAULT_BLA_PRESENTITY): string | undefined {
  let missing = false;
  const text = template.replace(SLOT, (_all, name: string) => {
    const v = value(view, name as Placeholder);
    if (v === undefined || v === '') {
      missing = true;
      return '';
    }
    // User parts are unescaped by the parser; escape them back so the URI re-parses to the same user.
    return name.endsWith('.user') ? encodeURIComponent(v) : v;
  });
  if (missing) return undefined;
  const u = parseUri(text);
  if (isSipParseError(u) || u.scheme === 'tel') return undefined;
  return aorKey(u);
}

function parseLoose(text: string): SipUri | undefined {
  const t = text.trim();
  const na = parseNameAddr(t);
  if (!isSipParseError(na)) return na.uri;
  const u = parseUri(t);
  return isSipParseError(u) ? undefined : u;
}

/**
 * Whether the subscription whose Contact is `subscriberContact` belongs to the phone that
 * published the change (`sender`, from the Sender header given to handle_publish): that phone
 * already knows its own state and must not be notified of it (OpenSIPS handle_publish(sender_uri)).
 * Compared as SIP URIs (RFC 3261 §19.1.4), as OpenSIPS compares Sender with the watcher's contact.
 */
export function isPublishingSubscriber(sender: string | undefined, subscriberContact: string): boolean {
  if (sender === undefined || sender.trim() === '') return false;
  const a = parseLoose(sender);
  const b = parseLoose(subscriberContact);
  if (a === undefined || b === undefined) return sender.trim() === subscriberContact.trim();
  return uriEquals(a, b);
}

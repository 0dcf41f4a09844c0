/**
 * The typed vocabulary of the SIP syntax layer (RFC 3261 sections 7, 20, 25).
 * Every other layer speaks in these types; only src/sip/ produces them from bytes.
 * This file holds types only, so that layers above can depend on it cheaply.
 */

/** URI parameters and headers keep their order; names are lower-cased, values unescaped; a flag parameter has value null. */
export type Params = Map<string, string | null>;

export interface SipUri {
  readonly scheme: 'sip' | 'sips' | 'tel';
  /** Unescaped user part (for tel: the telephone number); undefined when absent. */
  readonly user: string | undefined;
  readonly password: string | undefined;
  /** Host as written, IPv6 references with their brackets ("[2001:db8::1]"); empty for tel:. */
  readonly host: string;
  readonly port: number | undefined;
  readonly params: Params;
  readonly headers: Map<string, string>;
}

/** name-addr or addr-spec with its header parameters (tag, expires, q, +sip.instance ...). */
export interface NameAddr {
  readonly displayName: string | undefined;
  readonly uri: SipUri;
  /** The URI exactly as written between < > (or the bare addr-spec), for faithful re-serialisation. */
  readonly uriText: string;
  readonly params: Params;
}

export interface Via {
  /** Upper-cased transport token: UDP, TCP, TLS, SCTP, WS, WSS. */
  readonly transport: string;
  readonly host: string;
  readonly port: number | undefined;
  readonly params: Params;
  readonly branch: string | undefined;
  readonly received: string | undefined;
  /** RFC 3581: undefined = absent, true = present without value, number = filled in. */
  readonly rport: number | true | undefined;
}

export interface CSeq {
  readonly seq: number;
  readonly method: string;
}

/** Event header (RFC 6665 section 8.2.1): `dialog;sla;id=5` -> type "dialog", params {sla: null, id: "5"}. */
export interface EventHeader {
  readonly type: string;
  readonly id: string | undefined;
  readonly params: Params;
}

export interface SubscriptionStateHeader {
  readonly state: string;
  readonly expires: number | undefined;
  readonly reason: string | undefined;
  readonly retryAfter: number | undefined;
  readonly params: Params;
}

export interface MediaType {
  /** Lower-cased "type/subtype" without parameters. */
  readonly type: string;
  readonly params: Params;
}

export interface ContactList {
  /** `Contact: *` (only meaningful in REGISTER). */
  readonly star: boolean;
  readonly contacts: NameAddr[];
}

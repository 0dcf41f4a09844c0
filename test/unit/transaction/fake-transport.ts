/** A TransactionTransport that records what the layer sends; messages are injected as text. */
import { pino } from 'pino';
import { parseMessage, SipParseError, type SipMessage, type SipResponse } from '../../../src/sip/index.js';
import type { TransactionTransport } from '../../../src/transaction/index.js';
import type {
  Destination,
  InboundContext,
  LocalBinding,
  MessageHandler,
  ParseErrorHandler,
  SentBy,
} from '../../../src/transport/index.js';

export const silentLogger = pino({ level: 'silent' });

export interface SentRequest {
  readonly data: Buffer;
  readonly text: string;
  readonly dest: Destination;
  readonly at: number;
}

export interface SentResponse {
  readonly response: SipResponse;
  readonly data: Buffer;
  readonly dest: Destination;
  readonly local: LocalBinding | undefined;
  readonly at: number;
}

export function udpInbound(port = 5070, address = '127.0.0.1'): InboundContext {
  return {
    remote: { protocol: 'udp', address, port },
    localAddress: '127.0.0.1',
    localPort: 5060,
    flowId: undefined,
    receivedAt: 0,
  };
}

export function tcpInbound(port = 40000, flowId = 'flow-1'): InboundContext {
  return {
    remote: { protocol: 'tcp', address: '127.0.0.1', port },
    localAddress: '127.0.0.1',
    localPort: 5060,
    flowId,
    receivedAt: 0,
  };
}

export class FakeTransport implements TransactionTransport {
  readonly sent: SentRequest[] = [];
  readonly responses: SentResponse[] = [];
  /** When set, send() rejects with this error. */
  failSends: ((dest: Destination) => Error | undefined) | undefined;
  #onMessage: MessageHandler | undefined;
  #onParseError: ParseErrorHandler | undefined;
  readonly #now: () => number;

  constructor(now: () => number = () => 0) {
    this.#now = now;
  }

  onMessage(handler: MessageHandler): void {
    this.#onMessage = handler;
  }

  onParseError(handler: ParseErrorHandler): void {
    this.#onParseError = handler;
  }

  /** Requests land in `sent`, responses (parsed back) in `responses`. */
  send(data: Buffer, dest: Destination, local?: LocalBinding): Promise<void> {
    const parsed = parseMessage(data);
    if (!(parsed instanceof SipParseError) && parsed.kind === 'response') {
      this.responses.push({ response: parsed, data, dest, local, at: this.#now() });
    } else {
      this.sent.push({ data, text: data.toString('latin1'), dest, at: this.#now() });
    }
    const err = this.failSends?.(dest);
    return err === undefined ? Promise.resolve() : Promise.reject(err);
  }

  post(data: Buffer, dest: Destination, local?: LocalBinding): void {
    this.send(data, dest, local).catch(() => undefined);
  }

  localSentBy(dest: Destination): SentBy | undefined {
    return { protocol: dest.protocol, host: '127.0.0.1', port: dest.protocol === 'udp' ? 5060 : 5062 };
  }

  /** Parses text (LF or CRLF line ends) and hands it to the layer like the real transport would. */
  deliver(text: string, inbound: InboundContext = udpInbound()): void {
    const data = Buffer.from(crlf(text), 'latin1');
    const msg = parseMessage(data);
    if (msg instanceof SipParseError) {
      this.#onParseError?.(msg, data, inbound);
      return;
    }
    this.#onMessage?.(msg as SipMessage, inbound);
  }

  /** Hands raw bytes to the parse-error path with a given error. */
  deliverParseError(err: SipParseError, data: Buffer, inbound: InboundContext = udpInbound()): void {
    this.#onParseError?.(err, data, inbound);
  }

  lastResponse(): SipResponse {
    const r = this.responses.at(-1);
    if (r === undefined) throw new Error('no response sent');
    return r.response;
  }
}

/** Normalizes a test message to CRLF line ends, with a blank line after the headers. */
export function crlf(text: string): string {
  const lines = text.replace(/\r\n/g, '\n').replace(/^\n+/, '').split('\n');
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const blank = lines.indexOf('');
  if (blank < 0) return lines.join('\r\n') + '\r\n\r\n';
  return lines.join('\r\n');
}

export interface RequestSpec {
  method?: string;
  branch?: string;
  viaHost?: string;
  viaParams?: string;
  fromTag?: string;
  toTag?: string;
  callId?: string;
  cseq?: number;
  cseqMethod?: string;
  maxForwards?: string | null;
  extra?: string[];
  omit?: string[];
  uri?: string;
}

/** A well-formed request (SUBSCRIBE by default); fields can be changed or left out. */
export function request(spec: RequestSpec = {}): string {
  const method = spec.method ?? 'SUBSCRIBE';
  const lines: Array<[string, string]> = [
    ['Via', `SIP/2.0/UDP ${spec.viaHost ?? '127.0.0.1:5070'};branch=${spec.branch ?? 'z9hG4bK-abc1'}${spec.viaParams ?? ''}`],
    ['Max-Forwards', spec.maxForwards === undefined ? '70' : (spec.maxForwards ?? '')],
    ['From', `<sip:alice@example.com>;tag=${spec.fromTag ?? 'ftag1'}`],
    ['To', `<sip:bob@example.com>${spec.toTag !== undefined ? ';tag=' + spec.toTag : ''}`],
    ['Call-ID', spec.callId ?? 'call-1@127.0.0.1'],
    ['CSeq', `${spec.cseq ?? 1} ${spec.cseqMethod ?? method}`],
    ['Contact', '<sip:alice@127.0.0.1:5070>'],
    ['Event', 'presence'],
  ];
  const omit = new Set((spec.omit ?? []).map((n) => n.toLowerCase()));
  if (spec.maxForwards === null) omit.add('max-forwards');
  const head = lines.filter(([n]) => !omit.has(n.toLowerCase())).map(([n, v]) => `${n}: ${v}`);
  return [
    `${method} ${spec.uri ?? 'sip:bob@example.com'} SIP/2.0`,
    ...head,
    ...(spec.extra ?? []),
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

/** A response to a request we sent, echoing its top Via and CSeq. */
export function responseTo(sentText: string, status: number, reason = 'OK'): string {
  const via = /^Via: (.*)$/m.exec(sentText.replace(/\r/g, ''))?.[1];
  const cseq = /^CSeq: (.*)$/m.exec(sentText.replace(/\r/g, ''))?.[1];
  if (via === undefined || cseq === undefined) throw new Error('sent request lacks Via or CSeq');
  return [
    `SIP/2.0 ${status} ${reason}`,
    `Via: ${via}`,
    'From: <sip:bob@example.com>;tag=srv',
    'To: <sip:alice@example.com>;tag=cli',
    'Call-ID: notify-1',
    `CSeq: ${cseq}`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

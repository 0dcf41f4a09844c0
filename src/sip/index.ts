/**
 * The public surface of the SIP syntax layer: bytes <-> typed messages, pure (no I/O, timers or clock).
 */
export type {
  Params,
  SipUri,
  NameAddr,
  Via,
  CSeq,
  EventHeader,
  SubscriptionStateHeader,
  MediaType,
  ContactList,
} from './types.js';
export { SipParseError, SIP_ERROR_CODES, isSipParseError, type SipErrorCode } from './errors.js';
export { SipHeaders, splitList, canonicalHeaderName, isListHeader } from './headers.js';
export {
  createRequest,
  createResponseMessage,
  type SipRequest,
  type SipResponse,
  type SipMessage,
} from './message.js';
export { parseMessage, type ParseOptions } from './parse.js';
export { validateRequest, validateResponse, type RequestCore, type ResponseCore } from './validate.js';
export { parseUri, formatUri, uriEquals, aorKey } from './uri.js';
export { parseNameAddr, formatNameAddr } from './name-addr.js';
export { formatParams, unquote, quote } from './params.js';
export { parseVia, formatVia } from './headers/via.js';
export { parseCSeq, formatCSeq } from './headers/cseq.js';
export { parseEvent, formatEvent } from './headers/event.js';
export { parseSubscriptionState, formatSubscriptionState } from './headers/subscription-state.js';
export { parseExpires, deltaSeconds, MAX_DELTA_SECONDS } from './headers/expires.js';
export { parseMediaType, parseAccept, formatMediaType, mediaTypeMatches } from './headers/media-type.js';
export { parseContactList } from './headers/contact.js';
export { parseTokenList } from './headers/token-list.js';
export { serializeMessage } from './serialize.js';
export { createResponse, type CreateResponseOptions } from './response.js';
export { reasonPhrase } from './reason-phrases.js';
export { StreamFramer, type FrameEvent, type StreamFramerOptions } from './framer.js';

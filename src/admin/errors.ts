/**
 * The HTTP API's one error class. Every error the API returns is JSON `{error: {code, message}}` with a
 * stable `code` from this list, so scripts branch on the code and operators can look it up in docs/api.md.
 */

/** Every code the API can return, with its HTTP status. Stable: codes may be added, never re-purposed. */
export const API_ERRORS = {
  /** The request is malformed: bad JSON, a missing or invalid field, an unknown query parameter value. */
  API_ERR_BAD_REQUEST: 400,
  /** Authentication is required (tokens are configured) and no valid bearer token was sent. */
  API_ERR_UNAUTHORIZED: 401,
  /**
   * No tokens are configured and the Host header names neither an IP address, localhost nor the listen
   * host: refused so that a web page cannot reach an open API through DNS rebinding.
   */
  API_ERR_FORBIDDEN_HOST: 403,
  /** The resource (presentity, subscription, route) does not exist. */
  API_ERR_NOT_FOUND: 404,
  /** publish: the ETag given does not match a live publication (RFC 3903 section 6: 412). */
  API_ERR_ETAG_MISMATCH: 412,
  /** The request body is larger than the API accepts. */
  API_ERR_PAYLOAD_TOO_LARGE: 413,
  /** A path parameter (URI, subscription id) is longer than the API accepts. */
  API_ERR_URI_TOO_LONG: 414,
  /** The request body is not JSON, or publish names a content type the event package does not accept. */
  API_ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  /** The event package is unknown or does not accept publications (the SIP 489). */
  API_ERR_UNKNOWN_EVENT: 422,
  /** Too many concurrent event streams. */
  API_ERR_TOO_MANY_STREAMS: 429,
  /** subscribe: the limit of subscriptions held on behalf of watchers is reached. */
  API_ERR_TOO_MANY_SUBSCRIPTIONS: 429,
  /** The server has not finished starting (or is stopping). */
  API_ERR_NOT_READY: 503,
  /** An unexpected failure; the log has details. */
  API_ERR_INTERNAL: 500,
} as const;

export type ApiErrorCode = keyof typeof API_ERRORS;

export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly status: number;

  constructor(code: ApiErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ApiError';
    this.code = code;
    this.status = API_ERRORS[code];
  }
}

/** The JSON body of every error response. */
export interface ApiErrorBody {
  error: { code: ApiErrorCode; message: string };
}

export function errorBody(code: ApiErrorCode, message: string): ApiErrorBody {
  return { error: { code, message } };
}

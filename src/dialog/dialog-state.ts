/**
 * RFC 3261 §12 dialog state, as a plain mutable record (SIP.js dialog-state.ts): easy to persist and to restore.
 * Structurally identical to the store's DialogRecord, so no conversion is needed on either side.
 */

export interface DialogState {
  readonly callId: string;
  /** Our tag: the To-tag of our 2xx to the dialog-creating request. */
  readonly localTag: string;
  /** The peer's tag: the From-tag of the dialog-creating request. */
  readonly remoteTag: string;
  /** Our URI as name-addr text without tag (the request's To). */
  readonly localUri: string;
  /** The peer's URI as name-addr text without tag (the request's From). */
  readonly remoteUri: string;
  /** The peer's Contact URI: Request-URI of our in-dialog requests; refreshed by target-refresh requests (§12.2.2). */
  remoteTarget: string;
  /** Route set, in the order our requests carry it (§12.1.1: the Record-Route list, as a UAS). Never changes. */
  readonly routeSet: readonly string[];
  /** CSeq of the last request we sent in the dialog (0: none yet). */
  localSeq: number;
  /** Highest CSeq received from the peer. */
  remoteSeq: number;
  readonly secure: boolean;
}

export interface UasDialogInput {
  readonly callId: string;
  readonly localTag: string;
  readonly remoteTag: string;
  readonly localUri: string;
  readonly remoteUri: string;
  readonly remoteTarget: string;
  /** Record-Route header values of the request, in order. */
  readonly recordRoute: readonly string[];
  readonly remoteSeq: number;
  readonly secure: boolean;
}

/**
 * The dialog state a UAS creates on answering a dialog-creating request with 2xx (RFC 3261 §12.1.1):
 * route set = Record-Route in order, remote target = Contact, remote CSeq = request CSeq, local CSeq empty.
 */
export function createUasDialog(input: UasDialogInput): DialogState {
  return {
    callId: input.callId,
    localTag: input.localTag,
    remoteTag: input.remoteTag,
    localUri: input.localUri,
    remoteUri: input.remoteUri,
    remoteTarget: input.remoteTarget,
    routeSet: input.recordRoute.length === 0 ? EMPTY_ROUTES : input.recordRoute.slice(),
    localSeq: 0,
    remoteSeq: input.remoteSeq,
    secure: input.secure,
  };
}

/** Shared by every dialog without a route set (most of them): saves an array per subscription. */
const EMPTY_ROUTES: readonly string[] = Object.freeze([]);

/**
 * The dialog id (§12: Call-ID, local tag, remote tag) as one string. Length-prefixed so that no choice
 * of values can make two different dialogs collide.
 */
export function dialogKey(callId: string, localTag: string, remoteTag: string): string {
  return `${callId.length}:${callId}${localTag.length}:${localTag}${remoteTag}`;
}

/** Copy suitable for handing to a store (records are values: the store may keep what it is given). */
export function copyDialog(d: DialogState): DialogState {
  return {
    callId: d.callId,
    localTag: d.localTag,
    remoteTag: d.remoteTag,
    localUri: d.localUri,
    remoteUri: d.remoteUri,
    remoteTarget: d.remoteTarget,
    routeSet: d.routeSet,
    localSeq: d.localSeq,
    remoteSeq: d.remoteSeq,
    secure: d.secure,
  };
}

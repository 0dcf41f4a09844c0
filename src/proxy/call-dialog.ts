/**
 * One call seen through the proxy, as a dialog state machine in the RFC 4235 §3.7.1 sense (the job of
 * Kamailio's dialog module for pua_dialoginfo): a plain record the call tracker updates from the SIP
 * traffic it forwards.
 *
 *   trying --1xx with To tag--> early --2xx--> confirmed --BYE / timeout--> terminated
 *     |                           |--non-2xx final / CANCEL / early timeout--> terminated
 *     '-------------------2xx---------------------^
 *
 * With forking, each callee device that answers 1xx/2xx opens a leg (its To tag); the first 2xx decides
 * the call's callee tag. States never move backwards.
 */
import type { Destination } from '../transport/index.js';

export type CallState = 'trying' | 'early' | 'confirmed' | 'terminated';

/** RFC 4235 §4.1.2 state events, from the caller's point of view for local-bye/remote-bye. */
export type CallEndReason = 'cancelled' | 'rejected' | 'local-bye' | 'remote-bye' | 'timeout' | 'error';

/** One side of the call: who (identity, display name), its AOR, and where it is reached (target). */
export interface CallParty {
  /** URI from From (caller) or To (callee). */
  readonly identity: string;
  readonly display: string | undefined;
  /** Normalised address of record (core aorKey form). */
  readonly aor: string;
  /** Contact URI (remote target), once known. */
  readonly target: string | undefined;
}

/** A read-only view of a call, what listeners receive. */
export interface CallSnapshot {
  readonly callId: string;
  readonly callerTag: string;
  /** To tag of the leg that answered (or the first early leg while ringing). */
  readonly calleeTag: string | undefined;
  readonly state: CallState;
  readonly caller: CallParty;
  readonly callee: CallParty;
  /** Wall-clock ms. */
  readonly startedAt: number;
  readonly confirmedAt: number | undefined;
  /** Set once terminated. */
  readonly endReason: CallEndReason | undefined;
  /** The final status that ended an unanswered call. */
  readonly endCode: number | undefined;
}

const RANK: Readonly<Record<CallState, number>> = { trying: 0, early: 1, confirmed: 2, terminated: 3 };

interface Leg {
  readonly dest: Destination | undefined;
  ended: boolean;
}

export class CallDialog {
  readonly callId: string;
  readonly callerTag: string;
  /** Where in-dialog requests for the caller go: where its INVITE came from. */
  readonly callerDest: Destination;
  readonly startedAt: number;
  #state: CallState = 'trying';
  #caller: CallParty;
  #callee: CallParty;
  #calleeTag: string | undefined;
  #confirmedAt: number | undefined;
  #endReason: CallEndReason | undefined;
  #endCode: number | undefined;
  /** Callee legs by To tag; bounded by the number of branches. */
  readonly #legs = new Map<string, Leg>();

  constructor(init: {
    callId: string;
    callerTag: string;
    callerDest: Destination;
    caller: CallParty;
    callee: CallParty;
    startedAt: number;
  }) {
    this.callId = init.callId;
    this.callerTag = init.callerTag;
    this.callerDest = init.callerDest;
    this.#caller = init.caller;
    this.#callee = init.callee;
    this.startedAt = init.startedAt;
  }

  get state(): CallState {
    return this.#state;
  }

  get calleeTag(): string | undefined {
    return this.#calleeTag;
  }

  snapshot(): CallSnapshot {
    return {
      callId: this.callId,
      callerTag: this.callerTag,
      calleeTag: this.#calleeTag,
      state: this.#state,
      caller: this.#caller,
      callee: this.#callee,
      startedAt: this.startedAt,
      confirmedAt: this.#confirmedAt,
      endReason: this.#endReason,
      endCode: this.#endCode,
    };
  }

  /** Where a request towards the callee leg `toTag` goes, if that leg is known. */
  legDestination(toTag: string): Destination | undefined {
    return this.#legs.get(toTag)?.dest;
  }

  hasLeg(toTag: string): boolean {
    return this.#legs.has(toTag);
  }

  #move(to: CallState): boolean {
    if (RANK[to] <= RANK[this.#state]) return false;
    this.#state = to;
    return true;
  }

  #addLeg(toTag: string, dest: Destination | undefined): void {
    // A forking proxy sees at most one leg per branch; the cap guards against a peer inventing tags.
    if (!this.#legs.has(toTag) && this.#legs.size < 32) this.#legs.set(toTag, { dest, ended: false });
  }

  /** A 101-199 with a To tag: an early dialog (RFC 4235 "early"). Returns true when the state changed. */
  early(toTag: string, contact: string | undefined, dest: Destination | undefined): boolean {
    this.#addLeg(toTag, dest);
    if (this.#state !== 'trying') return false;
    this.#calleeTag = toTag;
    if (contact !== undefined) this.#callee = { ...this.#callee, target: contact };
    return this.#move('early');
  }

  /** A 2xx: the first one confirms the call with its leg. */
  answered(toTag: string, contact: string | undefined, dest: Destination | undefined, at: number): boolean {
    this.#addLeg(toTag, dest);
    if (this.#state === 'confirmed' || this.#state === 'terminated') return false;
    this.#calleeTag = toTag;
    this.#confirmedAt = at;
    if (contact !== undefined) this.#callee = { ...this.#callee, target: contact };
    return this.#move('confirmed');
  }

  /** The call was refused or cancelled before any 2xx. */
  rejected(status: number, cancelled: boolean): boolean {
    if (this.#state === 'confirmed' || this.#state === 'terminated') return false;
    this.#endReason = cancelled ? 'cancelled' : 'rejected';
    this.#endCode = status;
    return this.#move('terminated');
  }

  /**
   * A BYE on leg `toTag` (the callee side's tag), sent by the caller or the callee. Ends the call when it
   * is the confirmed leg, or an early leg of a call not yet answered; a BYE for another fork's 2xx leg (the
   * caller dropping a second answer) only ends that leg.
   */
  bye(calleeTag: string, fromCaller: boolean): boolean {
    const leg = this.#legs.get(calleeTag);
    if (leg !== undefined) leg.ended = true;
    if (this.#state === 'terminated') return false;
    if (this.#calleeTag !== undefined && calleeTag !== this.#calleeTag && this.#state === 'confirmed') return false;
    this.#endReason = fromCaller ? 'local-bye' : 'remote-bye';
    return this.#move('terminated');
  }

  /** No BYE came within the allowed time (maximum duration, session timer, early timeout). */
  timedOut(): boolean {
    if (this.#state === 'terminated') return false;
    this.#endReason = 'timeout';
    return this.#move('terminated');
  }
}

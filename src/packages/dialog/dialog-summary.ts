/**
 * Read-outs of dialog-info state for features that only need "is this extension on a call":
 * presence mixed from calls (mix_dialog_presence), dashboards, metrics.
 */
import { parseDialogInfo, type DialogInfoDocument, type DialogState } from './dialog-info.js';

export interface DialogActivity {
  /** Dialogs per state. */
  readonly counts: Readonly<Record<DialogState, number>>;
  /** A confirmed or early dialog exists: the line is in use or ringing, the user is "on the phone". */
  readonly busy: boolean;
  /** An early dialog where this entity is the recipient (or direction unknown): the phone rings. */
  readonly ringing: boolean;
}

const IDLE: DialogActivity = Object.freeze({
  counts: Object.freeze({ trying: 0, proceeding: 0, early: 0, confirmed: 0, terminated: 0 }),
  busy: false,
  ringing: false,
});

/** Summarises a dialog-info body or document; a body that does not parse counts as idle. */
export function dialogActivity(body: string | DialogInfoDocument | undefined): DialogActivity {
  if (body === undefined) return IDLE;
  let doc: DialogInfoDocument;
  if (typeof body === 'string') {
    const r = parseDialogInfo(body);
    if (!r.ok) return IDLE;
    doc = r.doc;
  } else {
    doc = body;
  }
  const counts = { trying: 0, proceeding: 0, early: 0, confirmed: 0, terminated: 0 };
  let ringing = false;
  for (const d of doc.dialogs) {
    counts[d.state]++;
    if (d.state === 'early' && d.direction !== 'initiator') ringing = true;
  }
  return { counts, busy: counts.confirmed > 0 || counts.early > 0, ringing };
}

/** mix_dialog_presence's test: the entity has a confirmed or early dialog published. */
export function isDialogBusy(body: string | DialogInfoDocument | undefined): boolean {
  return dialogActivity(body).busy;
}

/**
 * The storage worker: owns the writing SQLite connection, so that SQL, WAL writes, checkpoints and (with
 * durability 'full') fsyncs run on another core than the SIP event loop. Messages queued while a commit ran are
 * drained together and committed as one group: under load, groups grow instead of queuing up.
 */
import { type MessagePort, parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { StoreError } from '../errors.js';
import type { StoreMutation } from '../store.js';
import { BatchCommitter } from './batch-committer.js';
import { openDatabase } from './database.js';
import { checkpointAndClose } from './sqlite-store.js';
import { Statements } from './statements.js';
import type { FromWorker, ToWorker, WireError, WorkerInit } from './worker-protocol.js';

function toWire(err: unknown): WireError {
  if (err instanceof StoreError) return { code: err.code, message: err.message };
  return { code: 'STORE_ERR_COMMIT_FAILED', message: err instanceof Error ? err.message : String(err) };
}

function run(port: MessagePort, init: WorkerInit): void {
  const send = (m: FromWorker): void => port.postMessage(m);
  let opened;
  try {
    // The event loop side has migrated the schema already; this connection only writes.
    opened = openDatabase(init.path, init.options, 'writer', false);
  } catch (err) {
    send({ type: 'open-failed', error: toWire(err) });
    return;
  }
  const { db } = opened;
  const committer = new BatchCommitter(db, new Statements(db));
  let closed = false;

  const commitWrites = (writes: Extract<ToWorker, { type: 'write' }>[]): void => {
    if (writes.length === 0) return;
    const calls: (readonly StoreMutation[])[] = [];
    for (const w of writes) for (const c of w.calls) calls.push(c);
    const outcome = committer.commit(calls);
    const stats = {
      commits: committer.commits,
      mutations: committer.mutations,
      lastCommitMs: committer.lastCommitMs,
      failedCalls: committer.failedCalls,
    };
    let offset = 0;
    for (const w of writes) {
      let failures: [number, WireError][] | null = null;
      if (outcome !== undefined) {
        for (let i = 0; i < w.calls.length; i++) {
          const err = outcome[offset + i];
          if (err !== undefined) (failures ??= []).push([i, toWire(err)]);
        }
      }
      offset += w.calls.length;
      send({ type: 'done', seq: w.seq, failures, stats });
    }
  };

  port.on('message', (first: ToWorker) => {
    if (closed) return;
    const writes: Extract<ToWorker, { type: 'write' }>[] = [];
    let message: ToWorker | undefined = first;
    while (message !== undefined) {
      if (message.type === 'write') writes.push(message);
      else {
        commitWrites(writes.splice(0));
        closed = true;
        let error: WireError | null = null;
        try {
          checkpointAndClose(db, init.path);
        } catch (err) {
          error = toWire(err);
        }
        send({ type: 'closed', error });
        return;
      }
      message = receiveMessageOnPort(port)?.message as ToWorker | undefined;
    }
    commitWrites(writes);
  });
  send({ type: 'ready', synchronous: Number(db.pragma('synchronous', { simple: true })) });
}

if (parentPort !== null) run(parentPort, workerData as WorkerInit);

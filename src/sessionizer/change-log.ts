import { closedSessionFromSnapshot, closedSessionOf, type ClosedSession } from './closed-session.ts';
import { snapshotOf } from './snapshot.ts';
import type { Change, ChangeKind, SessionRules, SessionSnapshot, SessionState } from './types.ts';

const KINDS: readonly ChangeKind[] = ['started', 'updated', 'closed', 'removed'];
const CODE: Readonly<Record<ChangeKind, number>> = { started: 0, updated: 1, closed: 2, removed: 3 };
/** Code of an entry that carries its own finished Change. */
const FIXED = 4;

/**
 * The changes since the last drain, in the order they happened. An entry is
 * a kind code and the live session state, so recording costs two array
 * pushes and the snapshot, taken at drain time, shows the latest state.
 * Entries a correction made for sessions that left memory carry their own
 * finished Change.
 */
export class ChangeLog {
  private codes: number[] = [];
  private refs: Array<SessionState | Change> = [];

  get size(): number {
    return this.codes.length;
  }

  push(kind: ChangeKind, state: SessionState): void {
    this.codes.push(CODE[kind]);
    this.refs.push(state);
  }

  pushChange(change: Change): void {
    this.codes.push(FIXED);
    this.refs.push(change);
  }

  /** Builds the Change values and empties the log. */
  drain(rules: SessionRules): Change[] {
    const codes = this.codes;
    const refs = this.refs;
    const n = codes.length;
    const out: Change[] = new Array<Change>(n);
    for (let i = 0; i < n; i++) {
      const code = codes[i] as number;
      if (code === FIXED) {
        out[i] = refs[i] as Change;
        continue;
      }
      const s = refs[i] as SessionState;
      // A session rarely has two entries in one drain (started or updated, then
      // closed or removed); each entry gets a snapshot of the same latest state.
      const session: SessionSnapshot = snapshotOf(s, rules);
      const kind = KINDS[code] as ChangeKind;
      out[i] = kind === 'removed' && s.mergedInto !== null ? { kind, session, mergedInto: s.mergedInto } : { kind, session };
    }
    this.codes = [];
    this.refs = [];
    return out;
  }

  /**
   * The sessions closed since the last drain, in closing order, and empties
   * the log: for callers that only want final sessions (the CLI), spared the
   * snapshots of every start and update (closed-session.ts).
   */
  drainClosed(rules: SessionRules): ClosedSession[] {
    const codes = this.codes;
    const refs = this.refs;
    const out: ClosedSession[] = [];
    for (let i = 0; i < codes.length; i++) {
      if (codes[i] === CODE.closed) out.push(closedSessionOf(refs[i] as SessionState, rules));
      else if (codes[i] === FIXED && (refs[i] as Change).kind === 'closed') out.push(closedSessionFromSnapshot((refs[i] as Change).session));
    }
    this.codes = [];
    this.refs = [];
    return out;
  }
}

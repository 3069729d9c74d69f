import type { SessionSnapshot } from './types.ts';

/**
 * The closedFrontiers argument of Sessionizer.restore: per user, the largest
 * endedAt of CLOSED sessions that events at or after the watermark could
 * still reach (closesAt >= watermark), except MAX_DURATION closures (their
 * cut-started successor guards them). In SQL:
 *   SELECT "userId", max("endedAt") FROM sessions
 *   WHERE status = 'CLOSED' AND "closeReason" <> 'MAX_DURATION' AND "endedAt" + gap >= watermark
 *   GROUP BY "userId"
 */
export function closedFrontiersOf(
  sessions: Iterable<SessionSnapshot>,
  watermark: number,
  gapMs: number,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of sessions) {
    if (s.status !== 'CLOSED' || s.closeReason === 'MAX_DURATION' || s.endedAt + gapMs < watermark) continue;
    const f = out.get(s.userId);
    if (f === undefined || s.endedAt > f) out.set(s.userId, s.endedAt);
  }
  return out;
}

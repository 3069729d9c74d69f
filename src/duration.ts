/** Units accepted in duration strings, in milliseconds. */
const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const DURATION_PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/;

/**
 * Parses `500ms`, `30s`, `15m`, `24h`, `7d` or a plain number of seconds into
 * milliseconds. Returns null for anything else (negative, empty, unknown unit).
 */
export function parseDurationMs(text: string): number | null {
  const match = DURATION_PATTERN.exec(text.trim());
  if (!match) return null;
  const amount = Number(match[1]);
  const unitMs = UNIT_MS[match[2] ?? 's'];
  if (unitMs === undefined || !Number.isFinite(amount)) return null;
  return Math.round(amount * unitMs);
}

/** Formats milliseconds the way the configuration accepts them (for logs and --help). */
export function formatDurationMs(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = UNIT_MS[unit] ?? 1;
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

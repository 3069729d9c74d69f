/** How the commands count and word what they report on stderr. */

/**
 * `n` with thousands separators (1,234,567), for humans; as
 * toLocaleString('en-US') writes it, without loading Intl's data (some 10 ms
 * of a short run).
 */
export function count(n: number): string {
  const digits = String(Math.abs(Math.round(n)));
  if (!/^\d+$/.test(digits)) return Math.round(n).toLocaleString('en-US'); // Infinity, 1e+21 and beyond
  const sign = Math.round(n) < 0 ? '-' : '';
  return sign + digits.replace(/\B(?=(\d{3})+$)/g, ',');
}

/** One bad line: `FILE:LINE: CODE message`, as compilers report, so editors and grep can follow it. */
export function lineReport(label: string, lineNo: number, code: string, message: string): string {
  return `${label}:${lineNo}: ${code} ${message}\n`;
}

/** "INVALID_JSON 4, MISSING_FIELD 2" (most frequent first), or "" when empty. */
export function byCode(counts: Readonly<Record<string, number>>): string {
  return Object.entries(counts)
    .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1))
    .map(([code, n]) => `${code} ${count(n)}`)
    .join(', ');
}

/** Seconds with one decimal: "12.3 s". */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Events per second over `ms`. */
export function perSecond(n: number, ms: number): number {
  return ms > 0 ? (n * 1000) / ms : 0;
}

/**
 * Waiting for a condition instead of sleeping: a test that sleeps a fixed
 * time passes on a quiet machine and fails on a loaded one (or wastes the
 * time on a fast one). Deadlines here are generous on purpose: they only
 * decide how long a broken test takes to fail.
 */

/**
 * Resolves once `check` returns (or resolves to) true, polling every
 * `intervalMs`; a check that throws counts as false. Rejects naming `what`
 * after `timeoutMs` (default 30 s); a function for `what` is asked at that
 * moment (to name the last value seen).
 */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  what: string | (() => string),
  timeoutMs = 30_000,
  intervalMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await Promise.resolve().then(check).catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

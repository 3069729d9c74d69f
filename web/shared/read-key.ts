/**
 * The read key the person typed, kept for this browser tab only
 * (sessionStorage: gone when the tab closes, never written to disk by us,
 * never sent anywhere but this service). Shared by the dashboard and the
 * explorer so one prompt serves both.
 */
const STORAGE_KEY = 'sessions-service.read-key';

/** The stored key, or null. */
export function storedKey(): string | null {
  try {
    const key = sessionStorage.getItem(STORAGE_KEY);
    return key === null || key === '' ? null : key;
  } catch {
    // Storage can be disabled (privacy settings): the page then asks again after a reload.
    return null;
  }
}

/** Keeps `key` for this tab (null forgets it). */
export function storeKey(key: string | null): void {
  try {
    if (key === null) sessionStorage.removeItem(STORAGE_KEY);
    else sessionStorage.setItem(STORAGE_KEY, key);
  } catch {
    // See storedKey.
  }
}

/** The Authorization header value for `key`. */
export function bearer(key: string): string {
  return `Bearer ${key}`;
}

import { networkInterfaces } from 'node:os';

/**
 * How the other instances reach this one when CLUSTER_ADVERTISE_URL is not
 * set: http://HOST:PORT, with a wildcard HOST replaced by this machine's
 * first non-internal IPv4 address (127.0.0.1 when it has none).
 */
export function advertisedUrl(host: string, port: number): string {
  if (host !== '0.0.0.0' && host !== '::' && host !== '') return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return `http://${a.address}:${port}`;
  }
  return `http://127.0.0.1:${port}`;
}

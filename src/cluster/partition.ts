/**
 * Users are split into partitions by a stable hash of their id: FNV-1a
 * (32 bits) over the UTF-8 bytes of userId, modulo the partition count. The
 * migration `cluster` defines the same function in SQL
 * (`sessions_partition_of(user_id, partitions)`), so both sides agree.
 */

/** CLUSTER_PARTITIONS when it is not set. */
export const DEFAULT_PARTITIONS = 64;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** The partition (0 .. partitions - 1) of a user. */
export function partitionOf(userId: string, partitions: number): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < userId.length; i++) {
    let c = userId.charCodeAt(i);
    if (c < 0x80) {
      h = Math.imul(h ^ c, FNV_PRIME);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < userId.length) {
      const low = userId.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
        i++;
      }
    }
    // UTF-8 bytes of the code point (an unpaired surrogate encodes as itself; validation refuses those anyway).
    if (c < 0x800) {
      h = Math.imul(h ^ (0xc0 | (c >> 6)), FNV_PRIME);
    } else if (c < 0x10000) {
      h = Math.imul(h ^ (0xe0 | (c >> 12)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), FNV_PRIME);
    } else {
      h = Math.imul(h ^ (0xf0 | (c >> 18)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | ((c >> 12) & 0x3f)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), FNV_PRIME);
    }
    h = Math.imul(h ^ (0x80 | (c & 0x3f)), FNV_PRIME);
  }
  return (h >>> 0) % partitions;
}

/**
 * The balanced share of instance `index` among `instances` (sorted the same
 * way everywhere): every instance gets floor(P / n) partitions and the first
 * P mod n one more, so shares differ by at most one and add up to P.
 */
export function shareOf(index: number, instances: number, partitions: number): number {
  if (instances <= 0 || index < 0 || index >= instances) return 0;
  return Math.floor(partitions / instances) + (index < partitions % instances ? 1 : 0);
}

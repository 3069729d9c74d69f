import { shareOf } from './partition.ts';

/** What one balance round does (see planBalance). */
export type BalanceStep =
  /** This instance is not among the live ones (its lease ran out): renew and rebuild first. */
  | { readonly kind: 'rejoin' }
  /** Take this many free or dead partitions. */
  | { readonly kind: 'claim'; readonly count: number }
  /** Hand these partitions over (the others take them). */
  | { readonly kind: 'release'; readonly partitions: readonly number[] }
  | { readonly kind: 'steady' };

/**
 * One round of balancing, decided from the live instances (sorted the same
 * way by every instance) and the partitions this one holds: up to its even
 * share (shareOf), or down to it, highest partitions first.
 */
export function planBalance(self: string, live: readonly { readonly id: string }[], held: readonly number[], partitions: number): BalanceStep {
  const index = live.findIndex((i) => i.id === self);
  if (index < 0) return { kind: 'rejoin' };
  const target = shareOf(index, live.length, partitions);
  if (held.length < target) return { kind: 'claim', count: target - held.length };
  if (held.length > target) return { kind: 'release', partitions: [...held].sort((a, b) => a - b).slice(target) };
  return { kind: 'steady' };
}

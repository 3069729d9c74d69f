/** The pure sessionizer core: rules, in-memory fast paths, corrections (docs/sessionizer.md). */
export { Sessionizer } from './sessionizer.ts';
export { correctSessions, expandRegion } from './correction.ts';
export type { Region } from './correction.ts';
export { closedFrontiersOf } from './restore.ts';
export { referenceSessions } from './reference.ts';
export type { ReferenceSession } from './reference.ts';
export { MemorySessionStore } from './memory-store.ts';
export type { MemoryStoreOptions } from './memory-store.ts';
export { correctUser, persistChanges, runBatch } from './run-batch.ts';
export type { BatchOutcome } from './run-batch.ts';
export { MinHeap } from './heap.ts';
export { compareEvents, keyLess } from './metrics.ts';
export type {
  Change,
  ChangeKind,
  ChannelStat,
  CloseReason,
  CorrectionInput,
  CorrectionOptions,
  CorrectionRequest,
  CorrectionResult,
  SessionEvent,
  SessionizerOptions,
  SessionRules,
  SessionSnapshot,
  SessionStatus,
  SessionStorePort,
} from './types.ts';

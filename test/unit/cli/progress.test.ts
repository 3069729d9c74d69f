import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { emptyCounts } from '../../../src/cli/ingest.ts';
import { Progress, progressText, summaryText } from '../../../src/cli/progress.ts';
import { waitUntil } from '../../helpers/wait.ts';

const counts = { ...emptyCounts(), lines: 12_345, sent: 12_000, accepted: 11_990, duplicates: 3, rejected: 7, rejectedByCode: { MISSING_FIELD: 2, INVALID_JSON: 5 } };

describe('ingest progress and summary', () => {
  it('words the progress line and the summary', () => {
    expect(progressText(counts, 2_000)).toBe('ingest: 12,345 lines, 6,000 events/s, accepted 11,990, duplicates 3, rejected 7');
    expect(summaryText(counts, 2_000, false)).toBe(
      'ingest: done: 12,345 lines, 12,000 events sent in 2.0 s (6,000 events/s): 11,990 accepted, 3 duplicates, 7 rejected (INVALID_JSON 5, MISSING_FIELD 2)\n',
    );
    expect(summaryText(emptyCounts(), 0, true)).toBe('ingest: stopped after 0 lines, 0 events sent in 0.0 s (0 events/s): 0 accepted, 0 duplicates, 0 rejected\n');
  });

  it('redraws in place on a terminal, and clears the line before anything else is written', async () => {
    const out = Object.assign(new PassThrough(), { isTTY: true });
    let text = '';
    out.on('data', (b: Buffer) => (text += b.toString()));
    const progress = new Progress(out, counts);
    await waitUntil(() => text.includes('ingest: 12,345 lines'), 'the first progress line (redrawn every 250 ms)');
    progress.line('events.jsonl:3: INVALID_JSON not JSON\n');
    progress.finish(false);
    expect(text).toMatch(/^\r\x1b\[2Kingest: 12,345 lines, .*\r\x1b\[2Kevents\.jsonl:3: INVALID_JSON not JSON\ningest: done: /s);
  });

  it('draws nothing but the lines and the summary elsewhere', () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (b: Buffer) => (text += b.toString()));
    const progress = new Progress(out, counts);
    progress.line('x\n');
    progress.finish(false);
    expect(text).toMatch(/^x\ningest: done: 12,345 lines/);
  });
});

// The live overview: open sessions, sessions started and closed per minute,
// and the feed of sessions starting, updating and closing.
import type { Api } from './api.ts';
import { currentDefinition } from '../shared/definition.ts';
import { TimeChart } from './charts.ts';
import { byId, el, formatDuration, formatValue } from './format.ts';
import type { FeedItem, LinkState } from './live-feed.ts';

const MINUTE_MS = 60_000;
/** Minutes the per-minute chart shows. */
const CHART_MINUTES = 30;
/** Rows kept in the feed (older ones are dropped: the page's memory stays bounded). */
const FEED_ROWS = 100;
/** Open sessions are counted again at most this often while the feed is busy, and at least this often when it is quiet. */
const OPEN_COUNT_MIN_MS = 1_000;
const OPEN_COUNT_MAX_MS = 10_000;
/** The per-minute chart is redrawn at most this often while the feed is busy. */
const CHART_REDRAW_MS = 250;

const OPEN_COUNT = 'query OpenSessions($definition: String) { sessions(definition: $definition, status: OPEN, first: 0) { totalCount } }';

/** Sessions started and closed per wall-clock minute since the page opened. */
class MinuteCounts {
  readonly started = new Map<number, number>();
  readonly closed = new Map<number, number>();

  add(kind: 'started' | 'closed', at: number): void {
    const map = kind === 'started' ? this.started : this.closed;
    const minute = Math.floor(at / MINUTE_MS) * MINUTE_MS;
    map.set(minute, (map.get(minute) ?? 0) + 1);
    for (const key of map.keys()) if (key < minute - CHART_MINUTES * MINUTE_MS) map.delete(key);
  }

  /** The last CHART_MINUTES minute starts, oldest first. */
  minutes(now: number): number[] {
    const current = Math.floor(now / MINUTE_MS) * MINUTE_MS;
    return Array.from({ length: CHART_MINUTES }, (_, i) => current - (CHART_MINUTES - 1 - i) * MINUTE_MS);
  }
}

export class Overview {
  private readonly counts = new MinuteCounts();
  private readonly chart = new TimeChart(byId('minute-chart'));
  private readonly feed = byId<HTMLOListElement>('feed');
  private openTimer: ReturnType<typeof setTimeout> | null = null;
  private openDueAt = 0;
  private chartPending = false;
  private lastOpenCount = 0;

  constructor(
    private readonly api: Api,
    private readonly onUser: (userId: string) => void,
  ) {
    setInterval(() => this.drawMinutes(), 5_000);
  }

  /** Starts counting open sessions (again). */
  start(): void {
    this.scheduleOpenCount(0);
    this.drawMinutes();
  }

  showState(state: LinkState): void {
    const node = byId('link-state');
    node.dataset['state'] = state.kind;
    switch (state.kind) {
      case 'connecting':
        node.textContent = 'connecting…';
        break;
      case 'live':
        node.textContent = 'live';
        break;
      case 'reconnecting':
        node.textContent = `${state.reason}; reconnecting in ${Math.ceil(state.inMs / 1000)} s`;
        break;
      case 'refused':
        node.textContent = 'the service refused the key for live updates';
        break;
      default:
        throw new Error(`unknown state ${JSON.stringify(state satisfies never)}`);
    }
  }

  add(item: FeedItem): void {
    if (item.kind !== 'updated') this.counts.add(item.kind, item.receivedAt);
    this.prepend(item);
    this.drawTiles(item.receivedAt);
    if (item.kind === 'updated') return;
    // Starts and closures change the open count and the chart: count again soon, redraw once per burst.
    this.scheduleOpenCount(OPEN_COUNT_MIN_MS);
    if (!this.chartPending) {
      this.chartPending = true;
      setTimeout(() => {
        this.chartPending = false;
        this.drawMinutes();
      }, CHART_REDRAW_MS);
    }
  }

  private prepend(item: FeedItem): void {
    const s = item.session;
    const first = this.feed.firstElementChild as HTMLElement | null;
    // A busy session sends an update every UPDATE_INTERVAL: keep one row for a run of them.
    if (item.kind === 'updated' && first?.dataset['kind'] === 'updated' && first.dataset['session'] === s.id) first.remove();
    const row = el('li', `feed-row ${item.kind}`);
    row.dataset['kind'] = item.kind;
    row.dataset['session'] = s.id;
    row.dataset['user'] = s.userId;
    const user = el('button', 'link user', s.userId);
    user.type = 'button';
    user.title = 'Show this user’s sessions';
    user.addEventListener('click', () => this.onUser(s.userId));
    const detail = [
      `${s.eventCount} event${s.eventCount === 1 ? '' : 's'}`,
      formatDuration(s.durationSeconds),
      s.topChannel === null ? '' : `via ${s.topChannel}`,
      s.totalValue === 0 ? '' : `value ${formatValue(s.totalValue, 'money')}`,
      s.closeReason === null ? '' : s.closeReason.toLowerCase().replace('_', ' '),
    ].filter((part) => part !== '');
    row.append(
      el('time', 'when', new Date(item.receivedAt).toLocaleTimeString()),
      el('span', `badge ${item.kind}`, item.kind),
      user,
      el('code', 'session-id', s.id.slice(0, 8)),
      el('span', 'detail', detail.join(' · ')),
    );
    this.feed.prepend(row);
    while (this.feed.childElementCount > FEED_ROWS) this.feed.lastElementChild?.remove();
    byId('feed-empty').hidden = true;
  }

  private drawTiles(now: number): void {
    const minute = Math.floor(now / MINUTE_MS) * MINUTE_MS;
    for (const kind of ['started', 'closed'] as const) {
      const tile = byId(`tile-${kind}`);
      const value = this.counts[kind].get(minute) ?? 0;
      tile.dataset['value'] = String(value);
      tile.textContent = formatValue(value, 'count');
    }
  }

  private drawMinutes(): void {
    const now = Date.now();
    const minutes = this.counts.minutes(now);
    this.drawTiles(now);
    this.chart.show(minutes, [
      { label: 'started', color: '#2563eb', values: minutes.map((m) => this.counts.started.get(m) ?? 0), bars: true },
      { label: 'closed', color: '#f97316', values: minutes.map((m) => this.counts.closed.get(m) ?? 0), bars: true },
    ]);
  }

  /** Counts open sessions in `inMs`, unless a count is already due sooner. */
  private scheduleOpenCount(inMs: number): void {
    const dueAt = Date.now() + inMs;
    if (this.openTimer !== null) {
      if (this.openDueAt <= dueAt) return;
      clearTimeout(this.openTimer);
    }
    this.openDueAt = dueAt;
    this.openTimer = setTimeout(() => void this.countOpen(), inMs);
  }

  private async countOpen(): Promise<void> {
    this.openTimer = null;
    const tile = byId('tile-open');
    try {
      const data = await this.api.query<{ sessions: { totalCount: number } }>(OPEN_COUNT, { definition: currentDefinition() });
      this.lastOpenCount = data.sessions.totalCount;
      tile.dataset['value'] = String(this.lastOpenCount);
      tile.textContent = formatValue(this.lastOpenCount, 'count');
      tile.title = '';
    } catch (error) {
      tile.title = `could not count open sessions: ${error instanceof Error ? error.message : String(error)}`;
    }
    this.scheduleOpenCount(OPEN_COUNT_MAX_MS);
  }
}

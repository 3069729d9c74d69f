// Engagement over a chosen range: the statistics, the series charts, and the
// top channels and users, all from one GraphQL request.
import type { Api } from './api.ts';
import { currentDefinition } from '../shared/definition.ts';
import { TimeChart } from './charts.ts';
import { byId, el, formatValue, toLocalInput, type Format } from './format.ts';

type Interval = 'HOUR' | 'DAY' | 'WEEK';

interface Bucket {
  start: string;
  sessions: number;
  users: number;
  events: number;
  avgDurationSeconds: number;
  bounceRate: number;
  engagementRate: number;
  conversionRate: number;
  totalValue: number;
}

interface EngagementAnswer {
  engagementStats: Record<string, number>;
  engagementSeries: Bucket[];
  topChannels: Array<{ channelId: string; sessions: number; events: number }>;
  topUsers: Array<{ userId: string; sessions: number; events: number; totalValue: number }>;
}

/** The statistics shown as tiles, in order, with their formats. */
export const STAT_TILES: ReadonlyArray<{ field: string; label: string; format: Format }> = [
  { field: 'sessions', label: 'Sessions', format: 'count' },
  { field: 'users', label: 'Users', format: 'count' },
  { field: 'events', label: 'Events', format: 'count' },
  { field: 'avgDurationSeconds', label: 'Avg duration', format: 'seconds' },
  { field: 'medianDurationSeconds', label: 'Median duration', format: 'seconds' },
  { field: 'p90DurationSeconds', label: 'p90 duration', format: 'seconds' },
  { field: 'avgEventsPerSession', label: 'Events / session', format: 'decimal' },
  { field: 'sessionsPerUser', label: 'Sessions / user', format: 'decimal' },
  { field: 'bounceRate', label: 'Bounce rate', format: 'rate' },
  { field: 'engagementRate', label: 'Engagement rate', format: 'rate' },
  { field: 'conversionRate', label: 'Conversion rate', format: 'rate' },
  { field: 'totalValue', label: 'Total value', format: 'money' },
];

const QUERY = `query Engagement($definition: String, $from: DateTime!, $to: DateTime!, $interval: Interval!, $timeZone: String) {
  engagementStats(definition: $definition, from: $from, to: $to) { ${STAT_TILES.map((t) => t.field).join(' ')} }
  engagementSeries(definition: $definition, from: $from, to: $to, interval: $interval, timeZone: $timeZone) {
    start sessions users events avgDurationSeconds bounceRate engagementRate conversionRate totalValue
  }
  topChannels(definition: $definition, from: $from, to: $to, limit: 10) { channelId sessions events }
  topUsers(definition: $definition, from: $from, to: $to, by: SESSIONS, limit: 10) { userId sessions events totalValue }
}`;

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** A readable number of buckets for the range. */
function intervalFor(rangeMs: number): Interval {
  if (rangeMs <= 3 * DAY_MS) return 'HOUR';
  if (rangeMs <= 120 * DAY_MS) return 'DAY';
  return 'WEEK';
}

export class Engagement {
  private readonly form = byId<HTMLFormElement>('range-form');
  private readonly from = byId<HTMLInputElement>('range-from');
  private readonly to = byId<HTMLInputElement>('range-to');
  private readonly interval = byId<HTMLSelectElement>('range-interval');
  private readonly volume = new TimeChart(byId('series-volume'));
  private readonly rates = new TimeChart(byId('series-rates'));

  constructor(
    private readonly api: Api,
    private readonly onUser: (userId: string) => void,
  ) {
    this.setRange(7 * DAY_MS);
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.load();
    });
    for (const button of document.querySelectorAll<HTMLButtonElement>('[data-range-days]')) {
      button.addEventListener('click', () => {
        this.setRange(Number(button.dataset['rangeDays']) * DAY_MS);
        void this.load();
      });
    }
  }

  private setRange(lengthMs: number): void {
    // The end is the next full hour, so the newest sessions are inside the range.
    const end = Math.ceil((Date.now() + 1) / HOUR_MS) * HOUR_MS;
    this.from.value = toLocalInput(end - lengthMs);
    this.to.value = toLocalInput(end);
    this.interval.value = 'AUTO';
  }

  /** Loads the range in the form. */
  async load(): Promise<void> {
    const status = byId('range-status');
    const from = new Date(this.from.value).getTime();
    const to = new Date(this.to.value).getTime();
    if (!Number.isFinite(from) || !Number.isFinite(to) || to <= from) {
      status.textContent = 'Choose a start before the end.';
      return;
    }
    const choice = this.interval.value;
    const interval = choice === 'HOUR' || choice === 'DAY' || choice === 'WEEK' ? choice : intervalFor(to - from);
    status.textContent = 'Loading…';
    try {
      const data = await this.api.query<EngagementAnswer>(QUERY, {
        definition: currentDefinition(),
        from: new Date(from).toISOString(),
        to: new Date(to).toISOString(),
        interval,
        timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
      });
      this.showStats(data.engagementStats);
      this.showSeries(data.engagementSeries);
      this.showTops(data);
      const panel = byId('engagement');
      panel.dataset['from'] = new Date(from).toISOString();
      panel.dataset['to'] = new Date(to).toISOString();
      status.textContent = `${new Date(from).toLocaleString()} – ${new Date(to).toLocaleString()}, per ${interval.toLowerCase()}`;
    } catch (error) {
      status.textContent = `Could not load: ${error instanceof Error ? error.message : String(error)}`;
    }
  }

  private showStats(stats: Record<string, number>): void {
    const tiles = byId('stat-tiles');
    tiles.replaceChildren(
      ...STAT_TILES.map(({ field, label, format }) => {
        const value = stats[field] ?? 0;
        const tile = el('div', 'tile');
        const number = el('div', 'tile-value', formatValue(value, format));
        number.dataset['stat'] = field;
        number.dataset['value'] = String(value);
        tile.append(number, el('div', 'tile-label', label));
        return tile;
      }),
    );
  }

  private showSeries(buckets: readonly Bucket[]): void {
    const xs = buckets.map((b) => Date.parse(b.start));
    this.volume.show(xs, [
      { label: 'sessions', color: '#2563eb', values: buckets.map((b) => b.sessions), bars: true },
      { label: 'users', color: '#16a34a', values: buckets.map((b) => b.users) },
    ]);
    this.rates.show(xs, [
      { label: 'engagement', color: '#16a34a', values: buckets.map((b) => (b.sessions === 0 ? null : b.engagementRate)), rate: true },
      { label: 'bounce', color: '#dc2626', values: buckets.map((b) => (b.sessions === 0 ? null : b.bounceRate)), rate: true },
      { label: 'conversion', color: '#9333ea', values: buckets.map((b) => (b.sessions === 0 ? null : b.conversionRate)), rate: true },
    ]);
  }

  private showTops(data: EngagementAnswer): void {
    const channels = byId('top-channels');
    channels.replaceChildren(
      ...data.topChannels.map((c) => row([el('td', '', c.channelId), num(c.sessions), num(c.events)])),
    );
    const users = byId('top-users');
    users.replaceChildren(
      ...data.topUsers.map((u) => {
        const button = el('button', 'link user', u.userId);
        button.type = 'button';
        button.addEventListener('click', () => this.onUser(u.userId));
        const cell = el('td');
        cell.append(button);
        return row([cell, num(u.sessions), num(u.events), num(u.totalValue, 'money')]);
      }),
    );
    byId('top-channels-empty').hidden = data.topChannels.length > 0;
    byId('top-users-empty').hidden = data.topUsers.length > 0;
  }
}

function row(cells: HTMLElement[]): HTMLTableRowElement {
  const tr = el('tr');
  tr.append(...cells);
  return tr;
}

function num(value: number, format: Format = 'count'): HTMLTableCellElement {
  const td = el('td', 'num', formatValue(value, format));
  td.dataset['value'] = String(value);
  return td;
}

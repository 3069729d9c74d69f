// A user's sessions as a timeline (one bar per session, positioned by its
// start and end), with every field of each session below it.
import type { Api } from './api.ts';
import { currentDefinition } from '../shared/definition.ts';
import { byId, el, formatDuration, formatTime, formatValue } from './format.ts';

interface UserSession {
  id: string;
  status: string;
  startedAt: string;
  endedAt: string;
  closesAt: string;
  durationSeconds: number;
  eventCount: number;
  eventCounts: Array<{ name: string; count: number }>;
  channels: Array<{ channelId: string; count: number }>;
  topChannel: string | null;
  totalValue: number;
  converted: boolean;
  engaged: boolean;
  bounced: boolean;
  firstEventName: string;
  lastEventName: string;
  closeReason: string | null;
  closedAt: string | null;
  version: number;
}

/** Most sessions shown for one user (the newest). */
const PAGE = 100;
const QUERY = `query UserSessions($definition: String, $userId: ID!, $first: Int!) {
  sessions(definition: $definition, userId: $userId, first: $first) {
    totalCount
    nodes {
      id status startedAt endedAt closesAt durationSeconds eventCount eventCounts { name count } channels { channelId count }
      topChannel totalValue converted engaged bounced firstEventName lastEventName closeReason closedAt version
    }
  }
}`;

export class UserTimeline {
  private readonly form = byId<HTMLFormElement>('user-form');
  private readonly input = byId<HTMLInputElement>('user-id');

  constructor(private readonly api: Api) {
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.show(this.input.value.trim());
    });
  }

  /** Shows `userId`'s sessions (and scrolls to them). */
  async show(userId: string): Promise<void> {
    this.input.value = userId;
    const status = byId('user-status');
    const timeline = byId('timeline');
    const list = byId('user-sessions');
    if (userId === '') {
      status.textContent = 'Type a user id.';
      return;
    }
    status.textContent = 'Loading…';
    byId('users').scrollIntoView({ block: 'start', behavior: 'smooth' });
    try {
      const data = await this.api.query<{ sessions: { totalCount: number; nodes: UserSession[] } }>(QUERY, { definition: currentDefinition(), userId, first: PAGE });
      const sessions = [...data.sessions.nodes].reverse(); // oldest first, left to right
      const { totalCount } = data.sessions;
      status.textContent =
        totalCount === 0
          ? `No sessions for ${userId}.`
          : `${totalCount} session${totalCount === 1 ? '' : 's'} for ${userId}${totalCount > PAGE ? ` (the newest ${PAGE} shown)` : ''}.`;
      timeline.dataset['user'] = userId;
      timeline.replaceChildren(...bars(sessions));
      list.replaceChildren(...sessions.map(card).reverse()); // newest first
    } catch (error) {
      status.textContent = `Could not load: ${error instanceof Error ? error.message : String(error)}`;
    }
  }
}

/** Bars placed on one time axis from the first start to the last end. */
function bars(sessions: readonly UserSession[]): HTMLElement[] {
  if (sessions.length === 0) return [];
  const start = Date.parse(sessions[0]?.startedAt ?? '');
  const end = Math.max(...sessions.map((s) => Date.parse(s.endedAt)));
  const span = Math.max(end - start, 1);
  return sessions.map((s) => {
    const left = ((Date.parse(s.startedAt) - start) / span) * 100;
    const width = ((Date.parse(s.endedAt) - Date.parse(s.startedAt)) / span) * 100;
    const bar = el('a', `bar ${s.status.toLowerCase()}${s.converted ? ' converted' : ''}`);
    bar.href = `#session-${s.id}`;
    bar.style.left = `${Math.min(left, 99.5)}%`;
    bar.style.width = `max(${width}%, 4px)`;
    bar.title = `${formatTime(s.startedAt)} – ${formatTime(s.endedAt)} · ${s.eventCount} events`;
    return bar;
  });
}

function card(s: UserSession): HTMLElement {
  const article = el('article', `session-card ${s.status.toLowerCase()}`);
  article.id = `session-${s.id}`;
  article.dataset['session'] = s.id;
  const heading = el('h3', '', `${formatTime(s.startedAt)} · ${formatDuration(s.durationSeconds)}`);
  heading.append(el('span', `badge ${s.status === 'OPEN' ? 'started' : 'closed'}`, s.status.toLowerCase()));
  const fields: Array<[string, string]> = [
    ['id', s.id],
    ['started', formatTime(s.startedAt)],
    ['ended', formatTime(s.endedAt)],
    ['closes at', formatTime(s.closesAt)],
    ['events', String(s.eventCount)],
    ['by name', s.eventCounts.map((c) => `${c.name} ${c.count}`).join(', ')],
    ['channels', s.channels.map((c) => `${c.channelId} ${c.count}`).join(', ') || '-'],
    ['top channel', s.topChannel ?? '-'],
    ['total value', formatValue(s.totalValue, 'money')],
    ['converted', s.converted ? 'yes' : 'no'],
    ['engaged', s.engaged ? 'yes' : 'no'],
    ['bounced', s.bounced ? 'yes' : 'no'],
    ['first / last event', `${s.firstEventName} / ${s.lastEventName}`],
    ['close reason', s.closeReason?.toLowerCase().replace('_', ' ') ?? '-'],
    ['closed at', s.closedAt === null ? '-' : formatTime(s.closedAt)],
    ['version', String(s.version)],
  ];
  const dl = el('dl');
  for (const [name, value] of fields) dl.append(el('dt', '', name), el('dd', '', value));
  article.append(heading, dl);
  return article;
}

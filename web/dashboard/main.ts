// The dashboard served at `/`: composition and the read-key prompt. When the
// service has keys, a read key is asked for, kept for this tab only
// (sessionStorage), and sent as `Authorization: Bearer` over HTTP and as the
// `authorization` connection parameter over WebSocket.
import './style.css';
import { graphqlWsUrl } from '../shared/endpoint.ts';
import { bearer, storedKey, storeKey } from '../shared/read-key.ts';
import { Api, ApiError } from './api.ts';
import { Engagement } from './engagement.ts';
import { byId } from './format.ts';
import { currentDefinition } from '../shared/definition.ts';
import { LiveFeed } from './live-feed.ts';
import { Overview } from './overview.ts';
import { UserTimeline } from './user-timeline.ts';

/** A read that needs the read role: it tells whether the page may read with the key it has. */
const PROBE = 'query Probe { sessions(first: 0) { totalCount } }';
const RETRY_UNREACHABLE_MS = 3_000;

const api = new Api(storedKey());
const timeline = new UserTimeline(api);
const showUser = (userId: string): void => void timeline.show(userId);
const overview = new Overview(api, showUser);
const engagement = new Engagement(api, showUser);
const feed = new LiveFeed({
  url: graphqlWsUrl(window.location),
  authorization: () => (api.currentKey === null ? null : bearer(api.currentKey)),
  onItem: (item) => overview.add(item),
  onState: (state) => overview.showState(state),
});

const prompt = byId('key-prompt');
const keyForm = byId<HTMLFormElement>('key-form');
const keyInput = byId<HTMLInputElement>('key-input');
const keyError = byId('key-error');
const changeKey = byId<HTMLButtonElement>('change-key');

type Access = { kind: 'ok' } | { kind: 'needs-key'; message: string } | { kind: 'unreachable'; message: string };

async function access(): Promise<Access> {
  try {
    await api.query(PROBE);
    return { kind: 'ok' };
  } catch (error) {
    if (error instanceof ApiError && error.needsKey) return { kind: 'needs-key', message: error.message };
    return { kind: 'unreachable', message: error instanceof Error ? error.message : String(error) };
  }
}

function askForKey(message: string): void {
  feed.stop();
  prompt.hidden = false;
  document.body.classList.add('locked');
  keyError.textContent = message;
  keyInput.focus();
}

const DEFINITIONS = 'query Definitions { definitions { name status } }';

/** Fills the definition choice; choosing one reloads the page with `?definition=`. */
async function listDefinitions(): Promise<void> {
  const select = byId<HTMLSelectElement>('definition');
  const current = currentDefinition();
  try {
    const data = await api.query<{ definitions: Array<{ name: string; status: string }> }>(DEFINITIONS);
    select.replaceChildren(
      ...data.definitions.map((d) => {
        const option = document.createElement('option');
        option.value = d.name;
        option.textContent = d.status === 'READY' ? d.name : `${d.name} (${d.status.toLowerCase()})`;
        option.selected = d.name === current;
        return option;
      }),
    );
  } catch {
    // The panels report errors themselves; the choice keeps `default`.
  }
  select.onchange = () => {
    const params = new URLSearchParams(window.location.search);
    params.set('definition', select.value);
    window.location.search = params.toString();
  };
}

function run(): void {
  void listDefinitions();
  prompt.hidden = true;
  document.body.classList.remove('locked');
  changeKey.hidden = api.currentKey === null;
  overview.start();
  feed.start();
  void engagement.load();
}

async function open(): Promise<void> {
  const result = await access();
  switch (result.kind) {
    case 'ok':
      run();
      return;
    case 'needs-key':
      if (api.currentKey !== null) {
        // A stored key that stopped working (rotated): forget it.
        storeKey(null);
        api.setKey(null);
        askForKey(`The stored key was refused (${result.message}). Enter a read key.`);
      } else {
        askForKey('');
      }
      return;
    case 'unreachable':
      byId('link-state').textContent = `service unreachable (${result.message}); retrying`;
      setTimeout(() => void open(), RETRY_UNREACHABLE_MS);
      return;
    default:
      throw new Error(`unknown access ${JSON.stringify(result satisfies never)}`);
  }
}

keyForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const key = keyInput.value.trim();
  if (key === '') return;
  api.setKey(key);
  void access().then((result) => {
    if (result.kind === 'ok') {
      storeKey(key);
      keyInput.value = '';
      run();
    } else {
      api.setKey(null);
      keyError.textContent = result.kind === 'needs-key' ? `That key was refused: ${result.message}` : result.message;
    }
  });
});

changeKey.addEventListener('click', () => {
  storeKey(null);
  api.setKey(null);
  askForKey('');
});

void open();

// Number and time formats of the dashboard (the raw values stay in data-value attributes).

const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
const percent = new Intl.NumberFormat(undefined, { style: 'percent', maximumFractionDigits: 1 });

/** How a statistic is shown. */
export type Format = 'count' | 'decimal' | 'rate' | 'seconds' | 'money';

/** `value` formatted for people. */
export function formatValue(value: number, format: Format): string {
  switch (format) {
    case 'count':
      return integer.format(value);
    case 'decimal':
    case 'money':
      return decimal.format(value);
    case 'rate':
      return percent.format(value);
    case 'seconds':
      return formatDuration(value);
    default:
      throw new Error(`unknown format ${String(format satisfies never)}`);
  }
}

/** 42 s, 3 m 20 s, 2 h 5 m. */
export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${decimal.format(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} m ${Math.round(seconds - minutes * 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} m`;
}

/** A local date and time, to the second. */
export function formatTime(iso: string | number): string {
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });
}

/** The value of an `<input type="datetime-local">` for an instant (local time). */
export function toLocalInput(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Creates an element with a class and text (never HTML: values come from users' events). */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, className = '', text = ''): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className !== '') node.className = className;
  if (text !== '') node.textContent = text;
  return node;
}

/** The element with `id`; throws when the page lacks it (a broken build, not a user error). */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (node === null) throw new Error(`the page has no #${id}`);
  return node as T;
}

// Client-side handling of log pages: the API returns lines with byte offsets; we keep a bounded window.

export interface LogLine {
  offset: number;
  text: string;
  level: string | null;
}

export const MAX_LINES = 2000;

/** Older page in front of the current lines, without duplicates, keeping at most `max` lines (newest). */
export function prependPage(current: LogLine[], older: LogLine[], max = MAX_LINES): LogLine[] {
  const first = current.length ? current[0].offset : Infinity;
  const merged = [...older.filter((l) => l.offset < first), ...current];
  return merged.slice(0, max);
}

/** New lines (follow mode) after the current ones; keeps the newest `max` lines. */
export function appendLines(current: LogLine[], newer: LogLine[], max = MAX_LINES): LogLine[] {
  const last = current.length ? current[current.length - 1].offset : -1;
  const merged = [...current, ...newer.filter((l) => l.offset > last)];
  return merged.length > max ? merged.slice(merged.length - max) : merged;
}

export function levelClass(level: string | null): string {
  switch (level) {
    case 'ERROR':
      return 'lvl-error';
    case 'WARN':
      return 'lvl-warn';
    case 'DEBUG':
    case 'TRACE':
      return 'lvl-debug';
    default:
      return 'lvl-info';
  }
}

export interface LogQuery {
  service: string;
  level?: string;
  q?: string;
  before?: number | null;
  after?: number | null;
  limit?: number;
}

export function logQueryString(query: LogQuery): string {
  const p = new URLSearchParams({ service: query.service, limit: String(query.limit ?? 200) });
  if (query.level) p.set('level', query.level);
  if (query.q) p.set('q', query.q);
  if (query.before !== null && query.before !== undefined) p.set('before', String(query.before));
  if (query.after !== null && query.after !== undefined) p.set('after', String(query.after));
  return p.toString();
}

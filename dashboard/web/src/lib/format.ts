// Formatting of the values the API sends; `kind` comes from each card metric.

export type Kind = 'count' | 'rate' | 'ms' | 'time' | 'percent' | 'bytes' | 'text';

const nf = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const nf1 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

export function isMissing(v: unknown): v is null | undefined {
  return v === null || v === undefined || (typeof v === 'number' && !Number.isFinite(v));
}

export function formatCount(v: number | null | undefined): string {
  return isMissing(v) ? '–' : nf.format(v);
}

export function formatRate(v: number | null | undefined): string {
  if (isMissing(v)) return '–';
  return `${v < 10 ? nf1.format(v) : nf.format(v)}/s`;
}

export function formatMs(v: number | null | undefined): string {
  if (isMissing(v)) return '–';
  if (v < 1000) return `${nf.format(v)} ms`;
  if (v < 60_000) return `${nf1.format(v / 1000)} s`;
  return `${nf1.format(v / 60_000)} min`;
}

export function formatPercent(v: number | null | undefined): string {
  if (isMissing(v)) return '–';
  const pct = v * 100;
  return `${pct < 10 ? pct.toFixed(2) : pct.toFixed(1)}%`;
}

export function formatBytes(v: number | null | undefined): string {
  if (isMissing(v)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let n = v;
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i += 1;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

/** "12 s ago" / "3 min ago" / "2.0 h ago" for an epoch-seconds time, relative to `now` (epoch s). */
export function formatAgo(epochS: number | null | undefined, nowS: number): string {
  if (isMissing(epochS)) return '–';
  const d = Math.max(0, nowS - epochS);
  if (d < 90) return `${Math.round(d)} s ago`;
  if (d < 5400) return `${Math.round(d / 60)} min ago`;
  return `${(d / 3600).toFixed(1)} h ago`;
}

export function formatValue(v: unknown, kind: Kind, nowS: number): string {
  if (isMissing(v)) return '–';
  switch (kind) {
    case 'count':
      return typeof v === 'number' ? formatCount(v) : String(v);
    case 'rate':
      return formatRate(Number(v));
    case 'ms':
      return formatMs(Number(v));
    case 'percent':
      return formatPercent(Number(v));
    case 'bytes':
      return formatBytes(Number(v));
    case 'time':
      return formatAgo(Number(v), nowS);
    default:
      return String(v);
  }
}


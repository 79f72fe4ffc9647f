// Status colours and ordering shared by cards and the data-flow graph.

export type Status = 'green' | 'amber' | 'red' | 'grey';

export const STATUS_COLOURS: Record<Status, string> = {
  green: '#2e9e44',
  amber: '#e0a100',
  red: '#d64541',
  grey: '#8a8f98',
};

const LABELS: Record<Status, string> = {
  green: 'healthy',
  amber: 'degraded',
  red: 'down',
  grey: 'not running',
};

export function asStatus(s: unknown): Status {
  return s === 'green' || s === 'amber' || s === 'red' ? s : 'grey';
}

export function statusColour(s: unknown): string {
  return STATUS_COLOURS[asStatus(s)];
}

export function statusLabel(s: unknown): string {
  return LABELS[asStatus(s)];
}

/** The worst of several statuses (red > amber > green > grey). */
export function worstStatus(list: unknown[]): Status {
  for (const s of ['red', 'amber', 'green'] as const) if (list.some((x) => asStatus(x) === s)) return s;
  return 'grey';
}

/** Colour of a flow edge: grey when nothing flows, green when it does, amber for the quarantine branch. */
export function edgeColour(rate: number | null | undefined, quarantine = false): string {
  if (rate === null || rate === undefined || rate <= 0) return STATUS_COLOURS.grey;
  return quarantine ? STATUS_COLOURS.amber : STATUS_COLOURS.green;
}

/** True when a card's data is older than `maxAgeS` (its probe is stuck or failing). */
export function isStale(updatedS: number | null | undefined, nowS: number, maxAgeS = 15): boolean {
  return updatedS === null || updatedS === undefined || nowS - updatedS > maxAgeS;
}

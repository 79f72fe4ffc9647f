// Editing configuration values: turn the text a person typed into the JSON value the API validates.

export interface OptionRow {
  name: string;
  env: string;
  group: string;
  doc: string;
  type: string;
  default: unknown;
  value: unknown;
  source: 'default' | 'saved' | 'environment';
  secret: boolean;
  editable: boolean;
  applies: string;
  dags: string[];
  shadowed: boolean;
}

/** Parse typed text by the option's type; returns the text itself when it is not a number (the API says why). */
export function coerce(text: string, type: string): unknown {
  const t = text.trim();
  if (type === 'int' && /^-?\d+$/.test(t)) return Number(t);
  if (type === 'float' && t !== '' && Number.isFinite(Number(t))) return Number(t);
  if (type === 'bool') return t === 'true' ? true : t === 'false' ? false : t;
  return type === 'str' ? text : t;
}

/** Only the drafts whose value differs from the effective one. */
export function changedValues(drafts: Record<string, string>, rows: OptionRow[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const row of rows) {
    const draft = drafts[row.name];
    if (draft === undefined) continue;
    const value = coerce(draft, row.type);
    if (value !== row.value) out[row.name] = value;
  }
  return out;
}

export function displayValue(row: OptionRow): string {
  if (row.secret) return row.value ? '•••• (set)' : '(not set)';
  if (row.value === '' || row.value === null || row.value === undefined) return '(empty)';
  return String(row.value);
}

export function sourceLabel(source: OptionRow['source']): string {
  return { default: 'default', saved: 'saved (overrides.json)', environment: 'environment' }[source] ?? source;
}

/** Group the rows by their `group` in first-seen order. */
export function groupRows(rows: OptionRow[]): [string, OptionRow[]][] {
  const groups = new Map<string, OptionRow[]>();
  for (const row of rows) {
    const list = groups.get(row.group) ?? [];
    list.push(row);
    groups.set(row.group, list);
  }
  return [...groups.entries()];
}

// The dashboard API (served by the Python app under /pipeline/api).
import type { Kind } from './lib/format';
import type { Status } from './lib/status';
import type { OptionRow } from './lib/config';
import type { MetricPoint, RangeKey, ResourcePoint } from './lib/charts';
import { logQueryString, type LogLine, type LogQuery } from './lib/logs';
import { authHeaders } from './lib/token';
import { currentToken, tokenRefused } from './auth';

export const API = `${import.meta.env.BASE_URL}api`;

export interface CardMetric {
  label: string;
  value: unknown;
  kind: Kind;
}

export interface Card {
  id: string;
  title: string;
  status: Status;
  reason: string;
  metrics: CardMetric[];
  updated: number | null;
  runs?: { dag_id: string; state: string | null; run_id: string | null; url: string; start: string | null }[];
}

export interface FlowNode {
  id: string;
  label: string;
  status: Status;
  reason: string;
}

export interface FlowEdge {
  from: string;
  to: string;
  rate: number | null;
  label: string;
}

export interface Snapshot {
  time: number;
  overall: Status;
  cards: Card[];
  flow: { nodes: FlowNode[]; edges: FlowEdge[] };
  rates: Record<string, number | null>;
  // The event contract's names and labels (contract.labels); error when it could not be read.
  contract?: {
    name?: string;
    version?: number;
    event_types?: { name: string; field: string; label: string }[];
    categories?: string[];
    error?: string;
  };
  resources: Record<string, { cpu: number; rss: number; disk: number; pid: number }>;
}

export interface MetricsAnswer {
  range: RangeKey;
  interval_s: number;
  index: string;
  exists: boolean;
  error?: string;
  batches?: number;
  fields: Record<string, string>;
  points: MetricPoint[];
  lag_samples: { t: number; lag: number }[];
}

export interface ConfigAnswer {
  options: OptionRow[];
  editing: boolean;
  audit: { time: string; who: string; changes: Record<string, { old: unknown; new: unknown }>; dags: string[] }[];
}

export interface SaveAnswer {
  saved: boolean;
  errors?: Record<string, string>;
  detail?: string;
  applied?: { ok: boolean; dag_id: string; run_id?: string; url?: string; error?: string }[];
}

// Every read sends the tab's token: beyond loopback logs and configuration need it.
async function send(path: string, init: RequestInit = {}): Promise<Response> {
  const resp = await fetch(`${API}${path}`, {
    ...init,
    headers: { ...authHeaders(currentToken()), ...(init.headers as Record<string, string>) },
  });
  if (resp.status === 401) tokenRefused();
  return resp;
}

export async function getJson<T>(path: string): Promise<T> {
  const resp = await send(path);
  if (!resp.ok) {
    const body = await resp.json().catch(() => ({}));
    throw new Error(body.detail ?? `HTTP ${resp.status}`);
  }
  return (await resp.json()) as T;
}

export const fetchMetrics = (range: RangeKey) => getJson<MetricsAnswer>(`/metrics?range=${range}`);
export const fetchResources = (range: RangeKey) =>
  getJson<{ services: Record<string, ResourcePoint[]> }>(`/resources?range=${range}`);
export const fetchLogServices = () => getJson<{ services: { service: string; size: number }[]; levels: string[] }>('/logs/services');
export const fetchLogs = (q: LogQuery) =>
  getJson<{ lines: LogLine[]; next_before?: number | null; next_after?: number; size: number }>(`/logs?${logQueryString(q)}`);
export const fetchConfig = () => getJson<ConfigAnswer>('/config');

export async function validateConfig(changes: Record<string, unknown>): Promise<Record<string, string>> {
  const resp = await send('/config/validate', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ changes }),
  });
  return ((await resp.json()) as { errors: Record<string, string> }).errors ?? {};
}

export async function saveConfig(
  changes: Record<string, unknown>,
  token: string,
  apply: boolean,
  who: string,
): Promise<SaveAnswer> {
  const resp = await fetch(`${API}/config`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify({ changes, apply, who: who || null }),
  });
  const body = await resp.json().catch(() => ({}));
  if (resp.status === 422) return { saved: false, errors: body.errors };
  if (!resp.ok) return { saved: false, detail: body.detail ?? `HTTP ${resp.status}` };
  return body as SaveAnswer;
}

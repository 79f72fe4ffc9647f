// Turning API series into chart series (pure, unit-tested); the components hand them to ECharts.

export interface MetricPoint {
  t: number;
  batches: number;
  in_rate: number | null;
  out_rate: number | null;
  error_rate: number | null;
  latency_p50_ms: number | null;
  latency_p95_ms: number | null;
  latency_max_ms: number | null;
  consumer_lag: number | null;
  event_time_lag_ms: number | null;
  batch_duration_ms: number | null;
}

export interface ResourcePoint {
  t: number;
  cpu: number;
  rss: number;
  disk: number;
}

export type Pair = [number, number | null];
export const RANGES = ['15m', '1h', '24h'] as const;
export type RangeKey = (typeof RANGES)[number];

export function rangeMs(range: RangeKey): number {
  return { '15m': 15 * 60_000, '1h': 3_600_000, '24h': 86_400_000 }[range];
}

export function pairs<T extends { t: number }>(points: T[], key: keyof T): Pair[] {
  return points.map((p) => {
    const v = p[key];
    return [p.t, typeof v === 'number' && Number.isFinite(v) ? v : null];
  });
}

/** Consumer lag: from the runtime-metrics documents when they carry it, else the dashboard's own samples. */
export function lagSeries(points: MetricPoint[], samples: { t: number; lag: number }[]): Pair[] {
  const fromIndex = pairs(points, 'consumer_lag');
  if (fromIndex.some(([, v]) => v !== null)) return fromIndex;
  return samples.map((s) => [s.t, s.lag]);
}

/** Whether any series has at least one value (else the chart shows "no data in this range"). */
export function hasData(...series: Pair[][]): boolean {
  return series.some((s) => s.some(([, v]) => v !== null));
}

/** The newest non-null value of a series. */
export function latest(series: Pair[]): number | null {
  for (let i = series.length - 1; i >= 0; i -= 1) if (series[i][1] !== null) return series[i][1];
  return null;
}

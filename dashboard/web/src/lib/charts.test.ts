import { describe, expect, it } from 'vitest';
import { hasData, lagSeries, latest, pairs, rangeMs, type MetricPoint } from './charts';

const point = (t: number, extra: Partial<MetricPoint> = {}): MetricPoint => ({
  t,
  batches: 1,
  in_rate: null,
  out_rate: null,
  error_rate: null,
  latency_p50_ms: null,
  latency_p95_ms: null,
  latency_max_ms: null,
  consumer_lag: null,
  event_time_lag_ms: null,
  batch_duration_ms: null,
  ...extra,
});

describe('chart series', () => {
  it('turns points into [time, value] pairs with gaps as null', () => {
    expect(pairs([point(1, { in_rate: 5 }), point(2)], 'in_rate')).toEqual([
      [1, 5],
      [2, null],
    ]);
  });

  it('uses the index lag when present, else the dashboard samples', () => {
    expect(lagSeries([point(1, { consumer_lag: 7 })], [{ t: 1, lag: 99 }])).toEqual([[1, 7]]);
    expect(lagSeries([point(1)], [{ t: 5, lag: 99 }])).toEqual([[5, 99]]);
  });

  it('knows when there is nothing to draw and what the newest value is', () => {
    expect(hasData([[1, null]])).toBe(false);
    expect(hasData([[1, null]], [[2, 0]])).toBe(true);
    expect(latest([[1, 3], [2, 4], [3, null]])).toBe(4);
    expect(latest([])).toBeNull();
  });

  it('converts ranges to milliseconds', () => {
    expect(rangeMs('15m')).toBe(900_000);
    expect(rangeMs('24h')).toBe(86_400_000);
  });
});

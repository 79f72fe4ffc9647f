import { useCallback, useEffect, useState } from 'react';
import { fetchMetrics, fetchResources, type MetricsAnswer } from '../api';
import { lagSeries, latest, pairs, RANGES, type RangeKey, type ResourcePoint } from '../lib/charts';
import { formatBytes, formatCount, formatMs, formatPercent, formatRate } from '../lib/format';
import { LineChart } from './LineChart';

const REFRESH_MS = 5000;

export function MetricsCharts() {
  const [range, setRange] = useState<RangeKey>('15m');
  const [metrics, setMetrics] = useState<MetricsAnswer | null>(null);
  const [resources, setResources] = useState<Record<string, ResourcePoint[]>>({});
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    const [m, r] = await Promise.allSettled([fetchMetrics(range), fetchResources(range)]);
    if (m.status === 'fulfilled') setMetrics(m.value);
    if (r.status === 'fulfilled') setResources(r.value.services);
    setError(m.status === 'rejected' ? String(m.reason.message ?? m.reason) : null);
  }, [range]);

  useEffect(() => {
    load();
    const id = window.setInterval(load, REFRESH_MS);
    return () => window.clearInterval(id);
  }, [load]);

  const points = metrics?.points ?? [];
  const inRate = pairs(points, 'in_rate');
  const services = Object.entries(resources);
  const perService = (key: keyof ResourcePoint) =>
    services.map(([name, pts]) => ({ name, data: pairs(pts, key) }));

  return (
    <div>
      <div className="toolbar">
        {RANGES.map((r) => (
          <button key={r} className={r === range ? 'active' : ''} onClick={() => setRange(r)} data-testid={`range-${r}`}>
            last {r}
          </button>
        ))}
        <span className="hint" data-testid="metrics-summary">
          {metrics
            ? `${formatCount(metrics.batches ?? 0)} batches in ${metrics.index}; latest in ${formatRate(latest(inRate))}`
            : 'loading…'}
        </span>
        {metrics && !metrics.exists && <span className="warn">index {metrics.index} does not exist yet</span>}
        {error && <span className="warn">{error}</span>}
      </div>
      <div className="charts">
        <LineChart
          testId="chart-throughput"
          title="Throughput (rows/s)"
          format={formatRate}
          lines={[
            { name: 'in', data: inRate },
            { name: 'out', data: pairs(points, 'out_rate') },
          ]}
        />
        <LineChart
          testId="chart-latency"
          title="End-to-end latency"
          format={formatMs}
          lines={[
            { name: 'p50', data: pairs(points, 'latency_p50_ms') },
            { name: 'p95', data: pairs(points, 'latency_p95_ms') },
          ]}
        />
        <LineChart
          testId="chart-errors"
          title="Error (quarantine) rate"
          format={formatPercent}
          lines={[{ name: 'quarantined / input', data: pairs(points, 'error_rate') }]}
        />
        <LineChart
          testId="chart-lag"
          title="Consumer lag (messages)"
          format={formatCount}
          lines={[{ name: 'lag', data: lagSeries(points, metrics?.lag_samples ?? []) }]}
        />
        <LineChart testId="chart-cpu" title="CPU per service (%)" format={(v) => `${v.toFixed(0)}%`} lines={perService('cpu')} />
        <LineChart testId="chart-memory" title="Memory (RSS) per service" format={formatBytes} lines={perService('rss')} />
        <LineChart testId="chart-disk" title="Disk per service" format={formatBytes} lines={perService('disk')} />
      </div>
    </div>
  );
}

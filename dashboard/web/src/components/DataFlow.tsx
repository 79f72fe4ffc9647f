import ReactEChartsCore from 'echarts-for-react/esm/core';
import { echarts } from '../echarts';
import type { Snapshot } from '../api';
import { formatRate } from '../lib/format';
import { edgeColour, statusColour } from '../lib/status';

// Fixed layout: the main line left to right, the quarantine branch below Spark.
const POSITIONS: Record<string, [number, number]> = {
  producer: [0, 0],
  kafka: [220, 0],
  spark: [440, 0],
  elasticsearch: [660, 0],
  kibana: [880, 0],
  quarantine: [440, 120],
};

export function DataFlow({ flow }: { flow: Snapshot['flow'] }) {
  const option = {
    animation: false,
    tooltip: { formatter: (p: { data: { tip?: string } }) => p.data.tip ?? '' },
    series: [
      {
        type: 'graph',
        layout: 'none',
        symbol: 'roundRect',
        symbolSize: [130, 46],
        roam: false,
        label: { show: true, color: '#fff', fontWeight: 'bold' },
        edgeSymbol: ['none', 'arrow'],
        edgeSymbolSize: 10,
        data: flow.nodes.map((n) => ({
          name: n.id,
          value: n.label,
          x: POSITIONS[n.id]?.[0] ?? 0,
          y: POSITIONS[n.id]?.[1] ?? 0,
          label: { formatter: n.label },
          itemStyle: { color: statusColour(n.status) },
          tip: `${n.label}: ${n.reason}`,
        })),
        links: flow.edges.map((e) => ({
          source: e.from,
          target: e.to,
          tip: `${e.label}: ${formatRate(e.rate)}`,
          label: {
            show: true,
            formatter: e.rate === null ? e.label : `${e.label} ${formatRate(e.rate)}`,
            fontSize: 12,
          },
          lineStyle: { width: 3, color: edgeColour(e.rate, e.to === 'quarantine') },
        })),
      },
    ],
  };
  return (
    <div data-testid="flow">
      <ReactEChartsCore echarts={echarts} option={option} style={{ height: 220 }} notMerge />
      <ul className="flow-rates">
        {flow.edges.map((e) => (
          <li key={`${e.from}-${e.to}`} data-testid={`edge-${e.from}-${e.to}`}>
            {e.from} → {e.to}: <strong>{e.rate === null ? '–' : formatRate(e.rate)}</strong> {e.label}
          </li>
        ))}
      </ul>
    </div>
  );
}

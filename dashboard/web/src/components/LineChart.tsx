import ReactEChartsCore from 'echarts-for-react/esm/core';
import { echarts } from '../echarts';
import { hasData, type Pair } from '../lib/charts';

export interface Line {
  name: string;
  data: Pair[];
}

export function LineChart(props: {
  title: string;
  lines: Line[];
  format: (v: number) => string;
  testId: string;
}) {
  const { title, lines, format, testId } = props;
  const empty = !hasData(...lines.map((l) => l.data));
  const option = {
    animation: false,
    title: { text: title, left: 0, textStyle: { fontSize: 13 } },
    tooltip: { trigger: 'axis', valueFormatter: (v: number | null) => (v === null ? '–' : format(v)) },
    legend: { top: 0, right: 0, type: 'scroll' },
    grid: { left: 60, right: 12, top: 36, bottom: 28 },
    xAxis: { type: 'time' },
    yAxis: { type: 'value', min: 0, axisLabel: { formatter: (v: number) => format(v) } },
    series: lines.map((l) => ({ name: l.name, type: 'line', showSymbol: l.data.filter(([, v]) => v !== null).length < 30, symbolSize: 4, connectNulls: false, data: l.data })),
  };
  return (
    <div className="chart" data-testid={testId} data-empty={empty}>
      <ReactEChartsCore echarts={echarts} option={option} style={{ height: 200 }} notMerge />
      {empty && <p className="empty">no data in this range</p>}
    </div>
  );
}

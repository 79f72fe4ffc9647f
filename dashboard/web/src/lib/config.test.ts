import { describe, expect, it } from 'vitest';
import { changedValues, coerce, displayValue, groupRows, type OptionRow } from './config';

const row = (name: string, type: string, value: unknown, extra: Partial<OptionRow> = {}): OptionRow => ({
  name,
  env: name.toUpperCase(),
  group: name.split('.')[0],
  doc: '',
  type,
  default: value,
  value,
  source: 'default',
  secret: false,
  editable: true,
  applies: '',
  dags: [],
  shadowed: false,
  ...extra,
});

describe('config editing', () => {
  it('coerces typed text by option type, leaving invalid text for the server to reject', () => {
    expect(coerce('12', 'int')).toBe(12);
    expect(coerce('1.5', 'int')).toBe('1.5');
    expect(coerce('0.05', 'float')).toBe(0.05);
    expect(coerce('abc', 'float')).toBe('abc');
    expect(coerce('5 seconds', 'str')).toBe('5 seconds');
  });

  it('sends only values that differ from the effective ones', () => {
    const rows = [row('kafka.topic.partitions', 'int', 3), row('spark.watermark', 'str', '10 minutes')];
    expect(changedValues({ 'kafka.topic.partitions': '3', 'spark.watermark': '5 minutes' }, rows)).toEqual({
      'spark.watermark': '5 minutes',
    });
  });

  it('never shows secrets', () => {
    expect(displayValue(row('es.password', 'str', '***', { secret: true }))).toBe('•••• (set)');
    expect(displayValue(row('es.password', 'str', '', { secret: true }))).toBe('(not set)');
    expect(displayValue(row('kibana.url', 'str', ''))).toBe('(empty)');
  });

  it('groups rows in order', () => {
    const groups = groupRows([row('kafka.a', 'int', 1), row('spark.b', 'int', 1), row('kafka.c', 'int', 1)]);
    expect(groups.map(([g, rows]) => [g, rows.length])).toEqual([
      ['kafka', 2],
      ['spark', 1],
    ]);
  });
});

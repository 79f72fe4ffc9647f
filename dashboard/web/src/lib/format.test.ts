import { describe, expect, it } from 'vitest';
import { formatAgo, formatBytes, formatCount, formatMs, formatPercent, formatRate, formatValue } from './format';

describe('formatters', () => {
  it('formats counts with thousands separators and a dash for missing values', () => {
    expect(formatCount(48210)).toBe('48,210');
    expect(formatCount(null)).toBe('–');
    expect(formatCount(Number.NaN)).toBe('–');
  });

  it('formats rates with one decimal below 10/s', () => {
    expect(formatRate(2.345)).toBe('2.3/s');
    expect(formatRate(1234.6)).toBe('1,235/s');
    expect(formatRate(0)).toBe('0/s');
    expect(formatRate(undefined)).toBe('–');
  });

  it('formats durations from milliseconds', () => {
    expect(formatMs(350)).toBe('350 ms');
    expect(formatMs(2500)).toBe('2.5 s');
    expect(formatMs(180_000)).toBe('3 min');
  });

  it('formats fractions as percentages', () => {
    expect(formatPercent(0.0123)).toBe('1.23%');
    expect(formatPercent(0.5)).toBe('50.0%');
  });

  it('formats bytes in binary units', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(3 * 1024 ** 3)).toBe('3.0 GiB');
  });

  it('formats times relative to now', () => {
    expect(formatAgo(100, 112)).toBe('12 s ago');
    expect(formatAgo(0, 180)).toBe('3 min ago');
    expect(formatAgo(0, 7200)).toBe('2.0 h ago');
    expect(formatAgo(200, 100)).toBe('0 s ago');
  });

  it('dispatches on the metric kind', () => {
    expect(formatValue(5, 'rate', 0)).toBe('5/s');
    expect(formatValue('success', 'text', 0)).toBe('success');
    expect(formatValue(null, 'count', 0)).toBe('–');
    expect(formatValue(0.02, 'percent', 0)).toBe('2.00%');
  });
});

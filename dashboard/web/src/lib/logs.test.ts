import { describe, expect, it } from 'vitest';
import { appendLines, levelClass, logQueryString, prependPage, type LogLine } from './logs';

const line = (offset: number, level: string | null = 'INFO'): LogLine => ({ offset, text: `line ${offset}`, level });

describe('log paging', () => {
  it('prepends an older page without duplicates', () => {
    const merged = prependPage([line(30), line(40)], [line(10), line(20), line(30)]);
    expect(merged.map((l) => l.offset)).toEqual([10, 20, 30, 40]);
  });

  it('appends followed lines and keeps only the newest', () => {
    const merged = appendLines([line(1), line(2)], [line(2), line(3), line(4)], 3);
    expect(merged.map((l) => l.offset)).toEqual([2, 3, 4]);
  });

  it('builds the query string with only the filters set', () => {
    expect(logQueryString({ service: 'kafka' })).toBe('service=kafka&limit=200');
    const qs = new URLSearchParams(logQueryString({ service: 'es', level: 'WARN', q: 'shard failed', before: 0 }));
    expect(qs.get('level')).toBe('WARN');
    expect(qs.get('q')).toBe('shard failed');
    expect(qs.get('before')).toBe('0');
    expect(qs.has('after')).toBe(false);
  });

  it('classes lines by level', () => {
    expect(levelClass('ERROR')).toBe('lvl-error');
    expect(levelClass('WARN')).toBe('lvl-warn');
    expect(levelClass(null)).toBe('lvl-info');
  });
});

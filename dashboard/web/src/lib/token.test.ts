import { describe, expect, it } from 'vitest';
import { authHeaders, fragmentToken, readToken, TOKEN_KEY, writeToken } from './token';

class MemoryStorage {
  items = new Map<string, string>();
  getItem(k: string) {
    return this.items.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.items.set(k, v);
  }
  removeItem(k: string) {
    this.items.delete(k);
  }
}

describe('token', () => {
  it('takes the token out of the fragment and keeps the rest', () => {
    expect(fragmentToken('#token=s3cr%2Bt')).toEqual({ token: 's3cr+t', rest: '' });
    expect(fragmentToken('#logs&token=abc')).toEqual({ token: 'abc', rest: '#logs' });
    expect(fragmentToken('#logs')).toEqual({ token: null, rest: '#logs' });
    expect(fragmentToken('')).toEqual({ token: null, rest: '' });
    expect(fragmentToken('#token=')).toEqual({ token: null, rest: '#token=' });
  });

  it('keeps it in the storage it is given, and forgets it when cleared', () => {
    const s = new MemoryStorage();
    expect(readToken(s)).toBe('');
    writeToken(s, 'abc');
    expect(s.items.get(TOKEN_KEY)).toBe('abc');
    expect(readToken(s)).toBe('abc');
    writeToken(s, '');
    expect(s.items.has(TOKEN_KEY)).toBe(false);
  });

  it('sends it as a bearer token, or nothing', () => {
    expect(authHeaders('abc')).toEqual({ Authorization: 'Bearer abc' });
    expect(authHeaders('')).toEqual({});
  });
});

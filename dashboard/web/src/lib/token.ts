// The dashboard token for private reads (logs, configuration) beyond loopback: given once, by the
// URL fragment (#token=…, removed from the address at once) or typed in, kept in sessionStorage
// (this tab only, gone when it closes). Never part of the served HTML.

export const TOKEN_KEY = 'pipeline-dashboard.token';

/** The token in a URL fragment like `#token=abc` (or `#status&token=abc`), and the fragment without it. */
export function fragmentToken(hash: string): { token: string | null; rest: string } {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const token = params.get('token');
  if (!token) return { token: null, rest: hash };
  params.delete('token');
  const rest = params.toString().replace(/=(&|$)/g, '$1');
  return { token, rest: rest ? `#${rest}` : '' };
}

export function readToken(storage: Pick<Storage, 'getItem'>): string {
  return storage.getItem(TOKEN_KEY) ?? '';
}

export function writeToken(storage: Pick<Storage, 'setItem' | 'removeItem'>, token: string): void {
  if (token) storage.setItem(TOKEN_KEY, token);
  else storage.removeItem(TOKEN_KEY);
}

/** Request headers that carry the token (none without one). */
export function authHeaders(token: string): Record<string, string> {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

// The token this tab holds (lib/token.ts), and whether the API has asked for one (a 401).
import { useSyncExternalStore } from 'react';
import { fragmentToken, readToken, writeToken } from './lib/token';

// Changes only when the token is set (readers reload on `version`) or asked for (the prompt shows).
let state = { version: 0, needed: false };
const listeners = new Set<() => void>();
const update = (next: Partial<typeof state>) => {
  state = { ...state, ...next };
  listeners.forEach((l) => l());
};
const subscribe = (l: () => void) => {
  listeners.add(l);
  return () => listeners.delete(l);
};

/** At start: a token given in the URL fragment is kept, and removed from the address bar and history. */
export function adoptFragmentToken(): void {
  const { token, rest } = fragmentToken(window.location.hash);
  if (token === null) return;
  writeToken(window.sessionStorage, token);
  window.history.replaceState(null, '', `${window.location.pathname}${window.location.search}${rest}`);
}

export const currentToken = () => readToken(window.sessionStorage);

export function setToken(token: string): void {
  writeToken(window.sessionStorage, token);
  update({ version: state.version + 1, needed: false });
}

/** A private read was refused (401): the page asks for the token. */
export function tokenRefused(): void {
  if (!state.needed) update({ needed: true });
}

/** The current token, whether one is asked for, and a number that changes with the token. */
export function useToken(): { token: string; needed: boolean; version: number } {
  const s = useSyncExternalStore(subscribe, () => state);
  return { token: currentToken(), ...s };
}

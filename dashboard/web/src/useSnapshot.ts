// Live snapshot from the SSE stream; `connected` turns false while the stream is down (EventSource retries).
import { useEffect, useState } from 'react';
import { API, type Snapshot } from './api';

export function useSnapshot(): { snapshot: Snapshot | null; connected: boolean } {
  const [snapshot, setSnapshot] = useState<Snapshot | null>(null);
  const [connected, setConnected] = useState(true);

  useEffect(() => {
    let source: EventSource | null = null;
    let retry: number | undefined;
    const open = () => {
      source = new EventSource(`${API}/stream`);
      source.addEventListener('snapshot', (ev) => {
        setSnapshot(JSON.parse((ev as MessageEvent).data) as Snapshot);
        setConnected(true);
      });
      source.onerror = () => {
        setConnected(false);
        // The browser retries by itself unless the stream is closed for good; then reopen ourselves.
        if (source?.readyState === EventSource.CLOSED) {
          source.close();
          retry = window.setTimeout(open, 3000);
        }
      };
    };
    open();
    return () => {
      source?.close();
      window.clearTimeout(retry);
    };
  }, []);

  return { snapshot, connected };
}

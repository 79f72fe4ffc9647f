import { useCallback, useEffect, useRef, useState } from 'react';
import { fetchLogs, fetchLogServices } from '../api';
import { appendLines, levelClass, prependPage, type LogLine } from '../lib/logs';
import { useToken } from '../auth';

const FOLLOW_MS = 2000;

export function LogsViewer() {
  const [services, setServices] = useState<string[]>([]);
  const [levels, setLevels] = useState<string[]>([]);
  const [service, setService] = useState('');
  const [level, setLevel] = useState('');
  const [search, setSearch] = useState('');
  const [q, setQ] = useState('');
  const [follow, setFollow] = useState(true);
  const [lines, setLines] = useState<LogLine[]>([]);
  const [olderFrom, setOlderFrom] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const endRef = useRef<number>(0);
  const boxRef = useRef<HTMLPreElement>(null);
  const { version } = useToken(); // a new token: read again

  useEffect(() => {
    fetchLogServices()
      .then((s) => {
        const names = s.services.map((x) => x.service);
        setServices(names);
        setLevels(s.levels);
        setService((cur) => cur || (names.includes('kafka') ? 'kafka' : (names[0] ?? '')));
      })
      .catch((e: Error) => setError(e.message));
  }, [version]);

  // A new service / filter: load the newest page.
  useEffect(() => {
    if (!service) return;
    let cancelled = false;
    fetchLogs({ service, level, q, limit: 200 })
      .then((page) => {
        if (cancelled) return;
        setLines(page.lines);
        setOlderFrom(page.next_before ?? null);
        endRef.current = page.size;
        setError(null);
      })
      .catch((e: Error) => !cancelled && setError(e.message));
    return () => {
      cancelled = true;
    };
  }, [service, level, q, version]);

  // Follow mode: new complete lines after the last offset read.
  useEffect(() => {
    if (!follow || !service) return;
    const id = window.setInterval(async () => {
      try {
        const page = await fetchLogs({ service, level, q, after: endRef.current, limit: 500 });
        endRef.current = page.next_after ?? endRef.current;
        if (page.lines.length) setLines((cur) => appendLines(cur, page.lines));
      } catch (e) {
        setError((e as Error).message);
      }
    }, FOLLOW_MS);
    return () => window.clearInterval(id);
  }, [follow, service, level, q]);

  useEffect(() => {
    if (follow && boxRef.current) boxRef.current.scrollTop = boxRef.current.scrollHeight;
  }, [lines, follow]);

  const loadOlder = useCallback(async () => {
    if (olderFrom === null) return;
    const page = await fetchLogs({ service, level, q, before: olderFrom, limit: 200 });
    setLines((cur) => prependPage(cur, page.lines));
    setOlderFrom(page.next_before ?? null);
  }, [service, level, q, olderFrom]);

  return (
    <div>
      <div className="toolbar">
        <select value={service} onChange={(e) => setService(e.target.value)} data-testid="log-service">
          {services.map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
        <select value={level} onChange={(e) => setLevel(e.target.value)} data-testid="log-level">
          <option value="">any level</option>
          {levels.map((l) => (
            <option key={l} value={l}>
              {l} and above
            </option>
          ))}
        </select>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            setQ(search);
          }}
        >
          <input placeholder="search text" value={search} onChange={(e) => setSearch(e.target.value)} data-testid="log-search" />
          <button type="submit">Search</button>
        </form>
        <label>
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> follow
        </label>
        <button onClick={loadOlder} disabled={olderFrom === null} data-testid="log-older">
          Load older
        </button>
        <span className="hint">{lines.length} lines</span>
        {error && <span className="warn">{error}</span>}
      </div>
      <pre className="logbox" ref={boxRef} data-testid="log-lines">
        {lines.map((l) => (
          <div key={l.offset} className={levelClass(l.level)}>
            {l.text}
          </div>
        ))}
      </pre>
    </div>
  );
}

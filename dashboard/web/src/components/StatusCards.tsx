import type { Card } from '../api';
import { formatAgo, formatValue } from '../lib/format';
import { isStale, statusColour, statusLabel } from '../lib/status';

export function StatusCards({ cards, now }: { cards: Card[]; now: number }) {
  return (
    <div className="cards">
      {cards.map((c) => (
        <article key={c.id} className={`card status-${c.status}`} data-testid={`card-${c.id}`}>
          <header>
            <span className="dot" style={{ background: statusColour(c.status) }} title={statusLabel(c.status)} />
            <h3>{c.title}</h3>
          </header>
          <p className="reason" data-testid={`reason-${c.id}`}>
            {c.reason}
          </p>
          <dl>
            {c.metrics
              .filter((m) => !c.runs || !c.runs.some((r) => r.dag_id === m.label))
              .map((m) => (
                <div key={m.label}>
                  <dt>{m.label}</dt>
                  <dd data-testid={`metric-${c.id}-${m.label}`}>{formatValue(m.value, m.kind, now)}</dd>
                </div>
              ))}
          </dl>
          {c.runs && (
            <ul className="runs">
              {c.runs.map((r) => (
                <li key={r.dag_id}>
                  <a href={r.url} target="_blank" rel="noreferrer">
                    {r.dag_id}
                  </a>{' '}
                  <span className={`run-${r.state ?? 'none'}`}>{r.state ?? 'no runs'}</span>
                </li>
              ))}
            </ul>
          )}
          <footer className={isStale(c.updated, now) ? 'stale' : ''}>updated {formatAgo(c.updated, now)}</footer>
        </article>
      ))}
    </div>
  );
}

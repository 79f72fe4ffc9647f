// Open alerts and their history (failed pipeline_health / data_quality runs, from Airflow's own
// records via /api/alerts), which notification channels are on, and the GX Data Docs link.
import { useEffect, useState } from 'react';
import { getJson } from '../api';

interface Alert {
  dag_id: string;
  run_id: string;
  failed_at: string | null;
  state: 'open' | 'resolved';
  resolved_at: string | null;
  url: string;
  since?: string | null;
  failed_runs?: number;
  failed_tasks?: string[];
}

interface AlertsAnswer {
  open: Alert[];
  history: Alert[];
  channels: Record<string, boolean>;
  error: string | null;
  data_docs: string | null;
}

const REFRESH_MS = 15_000;
const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString() : '–');

export function AlertsPanel() {
  const [answer, setAnswer] = useState<AlertsAnswer | null>(null);
  const [failure, setFailure] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    const load = () =>
      getJson<AlertsAnswer>('/alerts')
        .then((a: AlertsAnswer) => live && (setAnswer(a), setFailure(null)))
        .catch((e: Error) => live && setFailure(e.message));
    load();
    const timer = setInterval(load, REFRESH_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, []);

  if (!answer) return <p className="hint">{failure ? `alerts unavailable: ${failure}` : 'Loading alerts…'}</p>;
  const channels = Object.entries(answer.channels);
  return (
    <div data-testid="alerts">
      {answer.error && <p className="warn">{answer.error}</p>}
      {answer.open.length === 0 ? (
        <p className="ok" data-testid="alerts-none">No open alert.</p>
      ) : (
        <ul className="runs" data-testid="alerts-open">
          {answer.open.map((a) => (
            <li key={a.dag_id} className="run-failed">
              <a href={a.url} target="_blank" rel="noreferrer">
                {a.dag_id}
              </a>{' '}
              failing since {when(a.since)} ({a.failed_runs} run{a.failed_runs === 1 ? '' : 's'}
              {a.failed_tasks?.length ? `; failed: ${a.failed_tasks.join(', ')}` : ''})
            </li>
          ))}
        </ul>
      )}
      <p className="hint">
        Notifications:{' '}
        {channels.length
          ? channels.map(([name, on]) => `${name} ${on ? 'on' : 'off'}`).join(', ')
          : 'unknown'}{' '}
        (on when its Airflow connection exists) ·{' '}
        {answer.data_docs ? (
          <a href={answer.data_docs} target="_blank" rel="noreferrer" data-testid="data-docs">
            Data Docs (Great Expectations)
          </a>
        ) : (
          'Data Docs: not built yet (run data_quality)'
        )}
      </p>
      {answer.history.length > 0 && (
        <table className="config" data-testid="alerts-history">
          <thead>
            <tr>
              <th>DAG</th>
              <th>failed at</th>
              <th>state</th>
              <th>resolved at</th>
            </tr>
          </thead>
          <tbody>
            {answer.history.map((a) => (
              <tr key={`${a.dag_id}/${a.run_id}`}>
                <td>
                  <a href={a.url} target="_blank" rel="noreferrer">
                    {a.dag_id}
                  </a>
                </td>
                <td>{when(a.failed_at)}</td>
                <td className={a.state === 'open' ? 'run-failed' : 'run-success'}>{a.state}</td>
                <td>{when(a.resolved_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

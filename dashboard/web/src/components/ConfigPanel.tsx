import { useCallback, useEffect, useState } from 'react';
import { fetchConfig, saveConfig, validateConfig, type ConfigAnswer, type SaveAnswer } from '../api';
import { changedValues, displayValue, groupRows, sourceLabel } from '../lib/config';
import { useToken } from '../auth';

export function ConfigPanel() {
  const [data, setData] = useState<ConfigAnswer | null>(null);
  const [drafts, setDrafts] = useState<Record<string, string>>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const { token: held, version } = useToken();
  const [token, setToken] = useState(held); // the edit token is the same dashboard token
  useEffect(() => setToken(held), [held]);
  const [who, setWho] = useState('');
  const [apply, setApply] = useState(true);
  const [result, setResult] = useState<SaveAnswer | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);

  const load = useCallback(() => {
    fetchConfig()
      .then((d) => {
        setData(d);
        setLoadError(null);
      })
      .catch((e: Error) => setLoadError(e.message));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [version]);
  useEffect(load, [load]);

  const changes = data ? changedValues(drafts, data.options) : {};
  const names = Object.keys(changes);

  // Validate while typing (the server holds the one set of rules).
  useEffect(() => {
    if (!names.length) {
      setErrors({});
      return;
    }
    const id = window.setTimeout(() => {
      validateConfig(changes).then(setErrors).catch(() => undefined);
    }, 300);
    return () => window.clearTimeout(id);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [JSON.stringify(changes)]);

  const save = async () => {
    const answer = await saveConfig(changes, token, apply, who);
    setResult(answer);
    if (answer.errors) setErrors(answer.errors);
    if (answer.saved) {
      setDrafts({});
      load();
    }
  };

  if (loadError) return <p className="warn">{loadError}</p>;
  if (!data) return <p>loading…</p>;
  return (
    <div>
      <table className="config" data-testid="config-table">
        <thead>
          <tr>
            <th>Setting</th>
            <th>Value</th>
            <th>Source</th>
            <th>What it does / when a change takes effect</th>
          </tr>
        </thead>
        {groupRows(data.options).map(([group, rows]) => (
          <tbody key={group}>
            <tr className="group">
              <td colSpan={4}>{group}</td>
            </tr>
            {rows.map((row) => (
              <tr key={row.name} data-testid={`config-${row.name}`}>
                <td>
                  <code>{row.name}</code>
                  <div className="env">{row.env}</div>
                </td>
                <td>
                  {row.editable && data.editing ? (
                    <input
                      aria-label={row.name}
                      className={errors[row.name] ? 'invalid' : ''}
                      value={drafts[row.name] ?? String(row.value)}
                      onChange={(e) => setDrafts({ ...drafts, [row.name]: e.target.value })}
                    />
                  ) : (
                    <span className="value">{displayValue(row)}</span>
                  )}
                  {errors[row.name] && (
                    <div className="error" data-testid={`error-${row.name}`}>
                      {errors[row.name]}
                    </div>
                  )}
                </td>
                <td className={`source-${row.source}`}>
                  {sourceLabel(row.source)}
                  {row.shadowed && row.editable && <div className="env">set in the environment: wins over a saved value</div>}
                </td>
                <td>
                  {row.doc}
                  {row.editable && <div className="applies">takes effect: {row.applies}</div>}
                </td>
              </tr>
            ))}
          </tbody>
        ))}
      </table>
      {!data.editing && <p className="hint">Editing is off: start the dashboard with PLATFORM_DASHBOARD_TOKEN set.</p>}
      {data.editing && (
        <div className="toolbar save">
          <input type="password" placeholder="edit token" value={token} onChange={(e) => setToken(e.target.value)} data-testid="token" />
          <input placeholder="your name (audit log)" value={who} onChange={(e) => setWho(e.target.value)} />
          <label>
            <input type="checkbox" checked={apply} onChange={(e) => setApply(e.target.checked)} /> apply now (trigger the DAGs)
          </label>
          <button
            onClick={save}
            disabled={!names.length || Object.keys(errors).length > 0 || !token}
            data-testid="save"
          >
            Save {names.length ? `${names.length} change(s)` : ''}
          </button>
        </div>
      )}
      {result && (
        <div className={result.saved ? 'ok' : 'warn'} data-testid="save-result">
          {result.saved ? 'Saved.' : `Not saved: ${result.detail ?? 'invalid values (see above)'}`}
          {result.applied?.map((a) => (
            <div key={a.dag_id}>
              {a.ok ? (
                <>
                  triggered <a href={a.url} target="_blank" rel="noreferrer">{a.dag_id}</a> ({a.run_id})
                </>
              ) : (
                <>could not trigger {a.dag_id}: {a.error}</>
              )}
            </div>
          ))}
        </div>
      )}
      <h3>Recent changes</h3>
      <ul className="audit" data-testid="audit">
        {data.audit.map((a, i) => (
          <li key={i}>
            {a.time} <strong>{a.who}</strong>:{' '}
            {Object.entries(a.changes)
              .map(([k, v]) => `${k} ${String(v.old)} → ${String(v.new)}`)
              .join(', ')}
            {a.dags.length > 0 && ` (applies via ${a.dags.join(', ')})`}
          </li>
        ))}
        {!data.audit.length && <li>none yet</li>}
      </ul>
    </div>
  );
}

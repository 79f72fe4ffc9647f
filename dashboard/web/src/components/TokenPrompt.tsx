import { useState } from 'react';
import { setToken, useToken } from '../auth';

/** Asks for the dashboard token once a private read was refused; kept for this tab only. */
export function TokenPrompt() {
  const { needed, token } = useToken();
  const [draft, setDraft] = useState('');
  if (!needed) return null;
  return (
    <form
      className="banner token-prompt"
      data-testid="token-prompt"
      onSubmit={(e) => {
        e.preventDefault();
        setToken(draft.trim());
        setDraft('');
      }}
    >
      <span>
        {token ? 'The dashboard token was refused.' : 'Logs and configuration need the dashboard token.'} It is
        kept in this tab only (or open the page with <code>#token=…</code>).
      </span>
      <input
        type="password"
        aria-label="dashboard token"
        placeholder="dashboard token"
        value={draft}
        onChange={(e) => setDraft(e.target.value)}
        data-testid="read-token"
      />
      <button type="submit" disabled={!draft.trim()} data-testid="read-token-use">
        Use
      </button>
    </form>
  );
}

import { useSnapshot } from './useSnapshot';
import { StatusCards } from './components/StatusCards';
import { DataFlow } from './components/DataFlow';
import { MetricsCharts } from './components/MetricsCharts';
import { LogsViewer } from './components/LogsViewer';
import { ConfigPanel } from './components/ConfigPanel';
import { AlertsPanel } from './components/AlertsPanel';
import { TokenPrompt } from './components/TokenPrompt';
import { statusColour, statusLabel } from './lib/status';

export default function App() {
  const { snapshot, connected } = useSnapshot();
  return (
    <div className="page">
      <header className="top">
        <h1>Pipeline dashboard</h1>
        {snapshot && (
          <span className="overall" style={{ background: statusColour(snapshot.overall) }} data-testid="overall">
            {statusLabel(snapshot.overall)}
          </span>
        )}
        <nav>
          <a href="#status">Status</a> <a href="#flow">Data flow</a> <a href="#metrics">Metrics</a>{' '}
          <a href="#logs">Logs</a> <a href="#config">Configuration</a>
        </nav>
      </header>
      <TokenPrompt />
      {!connected && (
        <div className="banner" role="alert" data-testid="disconnected">
          API unreachable, reconnecting…
        </div>
      )}
      <section id="status">
        <h2>Status</h2>
        {snapshot ? <StatusCards cards={snapshot.cards} now={snapshot.time} /> : <p>Waiting for the first update…</p>}
        {snapshot?.contract && (
          <p className="contract" data-testid="contract">
            {snapshot.contract.error
              ? `Event contract: ${snapshot.contract.error}`
              : `Event contract ${snapshot.contract.name} v${snapshot.contract.version}: ` +
                `${(snapshot.contract.event_types ?? []).map((t) => t.label).join(', ')}; ` +
                `categories ${(snapshot.contract.categories ?? []).join(', ')}`}
          </p>
        )}
      </section>
      <section id="alerts">
        <h2>Alerts</h2>
        <AlertsPanel />
      </section>
      <section id="flow">
        <h2>Data flow</h2>
        {snapshot && <DataFlow flow={snapshot.flow} />}
      </section>
      <section id="metrics">
        <h2>Metrics</h2>
        <MetricsCharts />
      </section>
      <section id="logs">
        <h2>Logs</h2>
        <LogsViewer />
      </section>
      <section id="config">
        <h2>Configuration</h2>
        <ConfigPanel />
      </section>
    </div>
  );
}

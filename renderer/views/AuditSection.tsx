import { useEffect } from 'react';
import { ActionErrorText } from '../components/ActionErrorText';
import { Banner } from '../components/Banner';
import { formatAuditTime, parseAuditLine } from '../logic/audit';
import { useActions, useBerth } from '../state/context';

/** Settings' audit log: every privileged action the helper carried out, read for a person. */
export function AuditSection() {
  const audit = useBerth((s) => s.audit);
  const loading = useBerth((s) => s.pending['audit.tail'] === true);
  const error = useBerth((s) => s.errors['audit.tail']);
  const { loadAudit } = useActions();
  useEffect(() => {
    void loadAudit();
  }, [loadAudit]);
  return (
    <section className="settings-section" aria-labelledby="audit-heading">
      <div className="section-head">
        <h2 id="audit-heading">Audit log</h2>
        <button type="button" className="button small" disabled={loading} onClick={() => void loadAudit()}>
          Refresh audit log
        </button>
      </div>
      <p className="muted">Every privileged action the helper carried out, newest last.</p>
      <ActionErrorText error={error} />
      {audit.error !== null && <Banner tone="warning" title="The audit log could not be read">{audit.error}</Banner>}
      {audit.loaded && audit.error === null && audit.lines.length === 0 && <p className="card muted">No privileged actions recorded yet.</p>}
      {audit.lines.length > 0 && (
        <div className="audit card" tabIndex={0} role="region" aria-label="Audit log entries">
          <table className="audit-table">
            {/* Fixed widths: a time never wraps, and the words of an action or a result are never split to fit. */}
            <colgroup>
              <col className="audit-col-time" />
              <col className="audit-col-action" />
              <col className="audit-col-detail" />
              <col className="audit-col-result" />
            </colgroup>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Action</th>
                <th scope="col">On</th>
                <th scope="col">Result</th>
              </tr>
            </thead>
            <tbody>
              {audit.lines.map(parseAuditLine).map((row, i) => {
                const [day, time] = formatAuditTime(row.time).split(' ');
                return (
                  <tr key={i} title={row.raw}>
                    <td className="audit-time mono">
                      <span className="nowrap">{day}</span> {time !== undefined && <span className="nowrap">{time}</span>}
                    </td>
                    <td className="audit-action">{row.action}</td>
                    <td className="audit-detail mono">{row.detail}</td>
                    <td className={row.ok ? 'audit-result audit-ok' : 'audit-result audit-refused'}>{row.outcome}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

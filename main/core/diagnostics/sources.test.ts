import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BEGIN_MARKER, END_MARKER } from '../../../common/hosts-block';
import { installLayout } from '../../../common/paths';
import { auditLogSource, directorySource, fileSource, helperLogsSource, hostsBlockSource, MAX_FILE_BYTES, settingsSource, traceSource } from './sources';
import { sampleReport } from '../capabilities/sample-reports';

describe('diagnostics sources', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'berth-sources-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a log directory: regular files only; a symlink is not followed, a FIFO not opened, odd names made plain', () => {
    const logs = join(dir, 'logs');
    mkdirSync(logs);
    writeFileSync(join(logs, 'backend.log'), 'line\n');
    writeFileSync(join(logs, 'we ird\nname'), 'x\n');
    writeFileSync(join(dir, 'private-key'), 'not a log');
    symlinkSync(join(dir, 'private-key'), join(logs, 'link.log'));
    execFileSync('mkfifo', [join(logs, 'pipe.log')]);
    const got = directorySource('app-logs', logs);
    expect(got.entries.map((e) => [e.name, e.content])).toEqual([
      ['app-logs/backend.log', 'line\n'],
      ['app-logs/we_ird_name', 'x\n'],
    ]);
    expect(got.skipped).toEqual([
      { name: 'app-logs/link.log', reason: `${join(logs, 'link.log')}: a symbolic link, not followed` },
      { name: 'app-logs/pipe.log', reason: `${join(logs, 'pipe.log')}: not a regular file` },
    ]);
  });

  it('a directory with too many files: the first ones, and the manifest says how many were left', () => {
    const many = join(dir, 'many');
    mkdirSync(many);
    for (let i = 0; i < 40; i++) writeFileSync(join(many, `f${String(i).padStart(2, '0')}.log`), `${i}\n`);
    const got = directorySource('helper-logs', many);
    expect(got.entries).toHaveLength(32);
    expect(got.skipped).toEqual([{ name: 'helper-logs/', reason: `${many}: 8 more files not taken (at most 32)` }]);
  });

  it('a log larger than the cap: its latest bytes, marked truncated', () => {
    const big = join(dir, 'big.log');
    writeFileSync(big, Buffer.concat([Buffer.alloc(1024, 'a'), Buffer.alloc(MAX_FILE_BYTES, 'b')]));
    const [entry] = fileSource('big.log', big, 'lines').entries;
    expect(entry!.truncated).toBe(true);
    expect(entry!.content).toBe('b'.repeat(MAX_FILE_BYTES));
  });

  it("the hosts block: Berth's lines only; none, or a malformed one, is a reason", () => {
    const hosts = join(dir, 'hosts');
    writeFileSync(hosts, `10.0.0.1 mine\n${BEGIN_MARKER}\n127.0.0.1 berth.internal\n${END_MARKER}\n10.0.0.2 also-mine\n`);
    expect(hostsBlockSource(hosts).entries[0]!.content).toBe(`${BEGIN_MARKER}\n127.0.0.1 berth.internal\n${END_MARKER}\n`);
    writeFileSync(hosts, '10.0.0.1 mine\n');
    expect(hostsBlockSource(hosts).skipped).toEqual([{ name: 'hosts-block.txt', reason: `${hosts} has no Berth block` }]);
    writeFileSync(hosts, `${BEGIN_MARKER}\n${BEGIN_MARKER}\n${END_MARKER}\n`);
    expect(hostsBlockSource(hosts).skipped[0]!.reason).toMatch(/has more than one berth block/);
  });

  it('the settings: only the keys the settings know, the number of others in the source; a file that is no JSON object is left out', () => {
    const settings = join(dir, 'settings.json');
    writeFileSync(settings, JSON.stringify({ hostsEntries: false, proxyPassword: 'opaque words', cliToolsLocation: 'user', 'a newer key': { deep: 1 } }));
    const [entry] = settingsSource(settings).entries;
    expect(JSON.parse(entry!.content)).toEqual({ hostsEntries: false, cliToolsLocation: 'user' });
    expect(entry!.source).toBe(`${settings} (2 keys the settings do not know left out)`);
    writeFileSync(settings, JSON.stringify({ startAtLogin: true }));
    expect(settingsSource(settings).entries[0]!.source).toBe(settings);
    // A known key keeps even a value the settings would refuse: that is what diagnostics are for (and it is redacted).
    writeFileSync(settings, JSON.stringify({ cliToolsLocation: 'sytem' }));
    expect(JSON.parse(settingsSource(settings).entries[0]!.content)).toEqual({ cliToolsLocation: 'sytem' });
    for (const bad of ['not json token=abc', '["hostsEntries"]', '"hostsEntries"', '{"__proto__": {"x": 1}}']) {
      writeFileSync(settings, bad);
      expect(settingsSource(settings)).toEqual({ entries: [], skipped: [{ name: 'settings.json', reason: `${settings} is not a JSON object Berth can read, so it was left out` }] });
    }
    expect(settingsSource(join(dir, 'missing.json')).skipped).toEqual([{ name: 'settings.json', reason: `${join(dir, 'missing.json')}: not found` }]);
  });

  it('the trace: skipped, with the reason, where no helper runs or none was asked for', async () => {
    const trace = (state: Parameters<typeof sampleReport>[0], seconds = 1) =>
      traceSource({ capabilities: sampleReport(state), helper: async () => undefined, seconds, onTick: () => {} });
    expect((await trace('running', 0)).skipped).toEqual([{ name: 'trace.jsonl', reason: 'not asked for (trace seconds 0)' }]);
    expect((await trace('not-running')).skipped[0]!.reason).toBe('the trace needs the helper. The helper is not running.');
    expect((await trace('user-mode')).skipped[0]!.reason).toBe('user mode: no privileged diagnostics trace is gathered');
    expect((await trace('running')).skipped[0]!.reason).toBe('the helper is not running');
  });
});

describe('diagnostics: the rotated audit log', () => {
  let logDir: string;
  beforeAll(() => {
    logDir = mkdtempSync(join(tmpdir(), 'berth-audit-sources-'));
    for (const name of ['audit.log', 'audit.log.1', 'audit.log.2', 'audit.log.bak', 'helper.log']) writeFileSync(join(logDir, name), `${name}\n`);
  });
  afterAll(() => rmSync(logDir, { recursive: true, force: true }));

  it('archives every file the helper rotated the log into, newest first, each under its own name', () => {
    const got = auditLogSource(join(logDir, 'audit.log'));
    expect(got.entries.map((e) => [e.name, e.content])).toEqual([
      ['audit.log', 'audit.log\n'],
      ['audit.log.1', 'audit.log.1\n'],
      ['audit.log.2', 'audit.log.2\n'],
    ]);
    expect(got.skipped).toEqual([]);
  });

  it('the helper logs leave the audit files to that entry, and take everything else', () => {
    const layout = { ...installLayout('linux'), logDir, auditLogPath: join(logDir, 'audit.log') };
    expect(helperLogsSource(layout).entries.map((e) => e.name)).toEqual(['helper-logs/audit.log.bak', 'helper-logs/helper.log']);
  });

  it('no log at all: the current file is reported missing, nothing else', () => {
    expect(auditLogSource(join(logDir, 'none', 'audit.log'))).toEqual({
      entries: [],
      skipped: [{ name: 'audit.log', reason: `${join(logDir, 'none', 'audit.log')}: not found` }],
    });
  });
});

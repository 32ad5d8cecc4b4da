/**
 * Crash safety of the atomic replace: a separate process ensures and removes
 * the block on a scratch hosts file in a loop and is SIGKILLed at random
 * points, over and over. After every kill the file must be exactly one of
 * the two valid states, never a mix, never empty, never a user line changed.
 * Leftover temp files are allowed (a kill between create and rename leaves
 * one); they are counted and cleaned.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { safeScratchDir } from '../../../test/support/scratch';
import { ensureBlock } from './block';

/** Kills in total, spread over parallel lanes (each its own file and directory) to keep the run short. */
const KILLS = 1000;
const LANES = 4;
/** The kill lands 0..MAX_DELAY_MS after the writer said it is looping: a random point in some ensure or remove. */
const MAX_DELAY_MS = 6;

const ORIGINALS = [
  '127.0.0.1 localhost\n::1 localhost\n# plain LF file\n10.0.0.1 a.test b.test\n',
  '# CRLF, no final newline\r\n127.0.1.1\tmybox\r\n\r\n10.0.0.2   spaced.test  # comment',
  '',
  '\t# tabs and\xa0odd bytes \xff\n\n\n192.168.1.1 router # no final newline',
];

interface Lane {
  dir: string;
  path: string;
  original: Buffer;
  ensured: Buffer;
}

interface Tally {
  kills: number;
  original: number;
  ensured: number;
  leftovers: number;
  torn: string[];
  strangers: string[];
}

const root = safeScratchDir('berth-hosts-crash');
afterAll(() => rmSync(root, { recursive: true, force: true }));

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves once the writer prints its ready line; rejects if it dies on its own (a bug, not our kill). */
function ready(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      if (chunk.includes('"ready":true')) resolve();
    });
    child.once('exit', (code, signal) => reject(new Error(`hosts-writer exited by itself (${code ?? signal}): ${stderr}`)));
  });
}

async function runLane(lane: Lane, kills: number, tally: Tally): Promise<void> {
  const fixture = join(inject('fixturesDir'), 'hosts-writer.js');
  for (let i = 0; i < kills; i++) {
    // A minimal environment: no NODE_OPTIONS or extra CA certificates to load a thousand times.
    const child = spawn(process.execPath, [fixture, 'loop', lane.path], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    await ready(child);
    await sleep(randomInt(0, MAX_DELAY_MS + 1));
    child.kill('SIGKILL');
    await exited;
    tally.kills++;

    const now = readFileSync(lane.path);
    if (now.equals(lane.original)) tally.original++;
    else if (now.equals(lane.ensured)) tally.ensured++;
    else tally.torn.push(`${lane.path} after kill ${i}: ${JSON.stringify(now.toString('latin1'))}`);

    for (const name of readdirSync(lane.dir)) {
      if (name === 'hosts') continue;
      // Only our temp names may appear (the rename path writes no backup); anything else is a bug of its own.
      if (/^\.hosts\.berth-[0-9a-f]{16}$/.test(name)) tally.leftovers++;
      else tally.strangers.push(name);
      rmSync(join(lane.dir, name));
    }
  }
}

describe('crash safety', () => {
  it(`the hosts file is never torn when the writer is SIGKILLed ${KILLS} times`, { timeout: 300_000 }, async () => {
    const lanes: Lane[] = ORIGINALS.slice(0, LANES).map((text, index) => {
      const dir = join(root, `lane-${index}`);
      mkdirSync(dir, { mode: 0o755 });
      const original = Buffer.from(text, 'latin1');
      writeFileSync(join(dir, 'hosts'), original, { mode: 0o644 });
      return { dir, path: join(dir, 'hosts'), original, ensured: ensureBlock(original) };
    });
    const tally: Tally = { kills: 0, original: 0, ensured: 0, leftovers: 0, torn: [], strangers: [] };
    await Promise.all(lanes.map((lane) => runLane(lane, Math.ceil(KILLS / LANES), tally)));

    const summary =
      `${tally.kills} kills: ${tally.original} found the original, ${tally.ensured} the ensured file, ` +
      `${tally.torn.length} torn; ${tally.leftovers} leftover temp files cleaned`;
    expect(tally.torn, summary).toEqual([]);
    expect(tally.strangers, summary).toEqual([]);
    expect(tally.kills, summary).toBeGreaterThanOrEqual(KILLS);
    expect(tally.original + tally.ensured, summary).toBe(tally.kills);
    // The user's lines are the original bytes, whatever state the file is in.
    for (const lane of lanes) expect(readFileSync(lane.path).subarray(0, lane.original.length).equals(lane.original)).toBe(true);
    console.log(`hosts crash test: ${summary}`);
  });
});

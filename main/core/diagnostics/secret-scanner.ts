import { rules as recommendedRules } from '@secretlint/secretlint-rule-preset-recommend';

/**
 * Finds vendor secrets (GitHub, Slack, AWS, npm, GitLab, Stripe, OpenAI,
 * Anthropic, private keys... whatever secretlint's recommended preset knows)
 * in a string, synchronously, with secretlint's own rules.
 *
 * secretlint's engine (@secretlint/core) is asynchronous and file-based; its
 * rules are not: each rule's `create(context)` returns a `file(source)`
 * handler that scans `source.content` with its regular expressions and calls
 * `context.report({ range })` for each secret, before it returns. So the
 * rules are driven here directly, created once, with the smallest context
 * they use. Only the ranges are kept: a rule's message quotes the secret.
 */

export type Range = readonly [start: number, end: number];

/** The part of secretlint's rule API (@secretlint/types) this driver provides. */
interface RuleContext {
  report(descriptor: { range?: unknown }): void;
  /** Messages are never shown: every one would quote the secret. */
  createTranslator(): () => string;
  /** Only the comment filter (not run here) ignores ranges: a no-op. */
  ignore(): void;
}

interface RuleSource {
  content: string;
  /** No path: a rule that looks at the file's name (npm's package.json check) then scans anything. */
  filePath: undefined;
  /** No extension: the GCP rule's asynchronous .p12 branch never runs. */
  ext: '';
  contentType: 'text';
}

interface Rule {
  meta: { id: string };
  create(context: RuleContext, options: Record<string, unknown>): { file?: (source: RuleSource) => unknown };
}

/**
 * Options per rule. AWS: access key ids (AKIA...) and account ids are only
 * scanned when asked; an archive sent to a stranger should carry neither.
 */
const RULE_OPTIONS: Readonly<Record<string, Record<string, unknown>>> = {
  '@secretlint/secretlint-rule-aws': { enableIDScanRule: true },
};

/** Where the rule being run reports to; undefined between scans, so a late report (none is expected) goes nowhere. */
let sink: { ranges: Range[]; length: number } | undefined;

function report(descriptor: { range?: unknown }): void {
  if (sink === undefined) return;
  const range = descriptor.range;
  const valid =
    Array.isArray(range) &&
    range.length === 2 &&
    Number.isInteger(range[0]) &&
    Number.isInteger(range[1]) &&
    (range[0] as number) >= 0 &&
    (range[0] as number) < (range[1] as number) &&
    (range[1] as number) <= sink.length;
  // A range we cannot place: the whole text goes rather than a secret staying.
  sink.ranges.push(valid ? [range[0] as number, range[1] as number] : [0, sink.length]);
}

const context: RuleContext = { report, createTranslator: () => () => '', ignore: () => {} };

/**
 * The preset's rules that find secrets. Its comment filter is left out (it
 * would let a `secretlint-disable` comment in a log hide the secret after it).
 */
const NOT_SCANNERS: ReadonlySet<string> = new Set(['@secretlint/secretlint-rule-filter-comments']);

/** The preset's scanners, created once. */
const handlers = (recommendedRules as readonly Rule[])
  .filter((rule) => !NOT_SCANNERS.has(rule.meta.id))
  .map((rule) => {
    const file = rule.create(context, RULE_OPTIONS[rule.meta.id] ?? {}).file;
    if (file === undefined) throw new Error(`secretlint rule ${rule.meta.id} has no file handler`);
    return { id: rule.meta.id, file };
  });

/** The ids of the rules that run, for tests. */
export const SCANNER_RULE_IDS: readonly string[] = handlers.map((h) => h.id);

/** Characters a token is made of: a reported secret is widened over them (see findSecrets). */
const TOKEN_CHAR = /[A-Za-z0-9+/=_-]/;

/**
 * The ranges of `text` that the preset's rules take for secrets, sorted and
 * merged. Each range is widened forwards to the end of the token it is in: a
 * secret never ends mid-token, and a rule's range may be off (the AWS rule
 * reports the secret key's length from where its key name starts).
 */
export function findSecrets(text: string): Range[] {
  if (text.length === 0) return [];
  const found: { ranges: Range[]; length: number } = { ranges: [], length: text.length };
  const source: RuleSource = { content: text, filePath: undefined, ext: '', contentType: 'text' };
  sink = found;
  try {
    for (const { id, file } of handlers) {
      const result = file(source);
      if (result instanceof Promise) {
        // None of the preset's rules is asynchronous for an extensionless text. A new one would report
        // after we stopped listening: refused loudly (the tests meet it first), never skipped quietly.
        result.catch(() => {});
        throw new Error(`secretlint rule ${id} scans asynchronously; the diagnostics redactor cannot use it`);
      }
    }
  } finally {
    sink = undefined;
  }
  const widened = found.ranges.map(([start, end]): Range => {
    let stop = end;
    while (stop < text.length && TOKEN_CHAR.test(text[stop]!)) stop++;
    return [start, stop];
  });
  widened.sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [];
  for (const [start, end] of widened) {
    const last = merged.at(-1);
    if (last !== undefined && start <= last[1]) last[1] = Math.max(last[1], end);
    else merged.push([start, end]);
  }
  return merged;
}

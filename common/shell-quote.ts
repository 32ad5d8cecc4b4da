/**
 * A command line to show a person, to paste into a shell: words made only of
 * safe characters stay bare; any other word is single-quoted ('\'' for a
 * quote), so a path with spaces or $ stays one word and means itself.
 */
export function shellCommand(argv: readonly string[]): string {
  return argv.map((word) => (/^[A-Za-z0-9_./:=@+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/**
 * What a subcommand writes to: main.ts passes the process's stdout and stderr, tests pass strings they
 * capture. Its own module, so the subcommands need not import main.ts (which imports them back).
 */
export interface CommandIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

// What a subcommand of the CLI declares: its flags (node:util parseArgs options), help text and entry.
import type { ParseArgsConfig } from 'node:util';

export interface Command {
  name: string;
  summary: string;
  help: string;
  options: NonNullable<ParseArgsConfig['options']>;
  allowPositionals?: boolean;
  run(values: Record<string, unknown>, positionals: string[]): Promise<number>;
}

// hotpath's command line: `hotpath serve`, `hotpath record`, `hotpath flamegraph`.
// A bad flag or value: one line on stderr, exit 2. Not privileged enough: one line, exit 1.
import { parseArgs } from 'node:util';
import type { Command } from './command.js';
import { HotpathError, ErrorCodes } from '../errors.js';
import { VERSION } from '../version.js';


const USAGE = `hotpath ${VERSION} — continuous CPU and latency profiler for Linux (eBPF)

Usage: hotpath <command> [flags]

Commands:
  serve        run the agent: Prometheus /metrics, Go-compatible /debug/pprof, flamegraphs
  record       record one profile to a file (pprof .pb.gz, .folded, .svg, .html)
  flamegraph   render a pprof profile or folded stacks to an interactive .svg or .html

Run 'hotpath <command> --help' for a command's flags. 'hotpath --version' prints the version.
`;

async function loadCommands(): Promise<Command[]> {
  const [{ recordCommand }, { flamegraphCommand }, { serveCommand }] = await Promise.all([
    import('./commands/record.js'),
    import('./commands/flamegraph.js'),
    import('./commands/serve.js'),
  ]);
  return [serveCommand, recordCommand, flamegraphCommand];
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    process.stderr.write(USAGE);
    return 2;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`hotpath ${VERSION}\n`);
    return 0;
  }
  const commands = await loadCommands();
  const command = commands.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`hotpath: unknown command "${name}" (commands: ${commands.map((c) => c.name).join(', ')}; see hotpath --help)\n`);
    return 2;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: command.allowPositionals ?? false,
      strict: true,
    });
  } catch (err) {
    process.stderr.write(`hotpath ${name}: ${(err as Error).message.split('\n')[0]}\n`);
    return 2;
  }
  if (parsed.values.help) {
    process.stdout.write(command.help);
    return 0;
  }
  try {
    return await command.run(parsed.values, parsed.positionals);
  } catch (err) {
    if (err instanceof HotpathError) {
      process.stderr.write(`hotpath ${name}: ${err.message}\n`);
      if (err.code === ErrorCodes.USAGE) return 2;
      return 1;
    }
    throw err;
  }
}

// `hotpath flamegraph IN [--output OUT] [--diff BASE]`: renders any pprof profile (ours or a Go program's) or
// folded stacks to an interactive flamegraph.
import { readFile, stat, writeFile } from 'node:fs/promises';
import { decodePprof } from '../../../exporters/pprof/index.js';
import { FlamegraphError, parseFoldedDetailed, renderHtml, renderSvg, type FoldedStack, type RenderOptions } from '../../../flamegraph/index.js';
import { foldForFlamegraph } from '../../windows/output-formats.js';
import type { Command } from '../command.js';
import { ErrorCodes, HotpathError, usageError } from '../../errors.js';

const HELP = `Usage: hotpath flamegraph IN [--output OUT.svg|OUT.html] [--diff BASE]

Renders a profile as an interactive flamegraph: click to zoom, search by regular expression, tooltips,
inverted (icicle) view, colours by frame kind (kernel, native, JIT/JS).

IN and BASE are pprof files (.pb.gz or raw .pb; any pprof profile, e.g. from Go's net/http/pprof) or folded
stacks ("a;b;c 12" lines, as written by hotpath record --output x.folded).

Flags:
  --output FILE        .svg or .html (default: IN with its extension replaced by .svg)
  --diff BASE          differential flamegraph: widths from IN, red where a frame grew since BASE, blue where it shrank
  --sample-type NAME   which pprof value to draw (default: the profile's default, e.g. cpu)
  --title TEXT         title shown above the graph
  --inverted           icicle view (roots at the top)
  -h, --help           this help
`;

const MAX_INPUT_BYTES = 512 * 1024 * 1024;

interface Input {
  stacks: FoldedStack[];
  render: Pick<RenderOptions, 'unit' | 'sampleType'>;
}

async function readStacks(path: string, sampleType: string | undefined): Promise<Input> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    throw new HotpathError(ErrorCodes.INPUT, `read ${path}: ${(err as Error).message}`);
  }
  if (info.size > MAX_INPUT_BYTES) throw new HotpathError(ErrorCodes.INPUT, `read ${path}: larger than ${MAX_INPUT_BYTES} bytes`);
  const buf = await readFile(path);
  const looksPprof = (buf[0] === 0x1f && buf[1] === 0x8b) || path.endsWith('.pb') || path.endsWith('.pprof');
  if (looksPprof) {
    let profile;
    try {
      profile = decodePprof(buf);
    } catch (err) {
      throw new HotpathError(ErrorCodes.INPUT, `read ${path}: not a pprof profile: ${(err as Error).message}`);
    }
    try {
      return foldForFlamegraph(profile, { sampleType });
    } catch (err) {
      if (err instanceof FlamegraphError) throw usageError(`${path}: ${err.message}`);
      throw err;
    }
  }
  const parsed = parseFoldedDetailed(buf.toString('utf8'));
  if (parsed.stacks.length === 0 && parsed.malformedLines > 0) {
    throw new HotpathError(ErrorCodes.INPUT, `read ${path}: neither pprof nor folded stacks (line ${parsed.firstMalformedLine} is malformed)`);
  }
  if (parsed.malformedLines > 0) {
    process.stderr.write(`hotpath flamegraph: ${path}: skipped ${parsed.malformedLines} malformed lines (first: line ${parsed.firstMalformedLine})\n`);
  }
  return { stacks: parsed.stacks, render: {} };
}

export const flamegraphCommand: Command = {
  name: 'flamegraph',
  summary: 'render a profile to an interactive flamegraph',
  help: HELP,
  allowPositionals: true,
  options: {
    output: { type: 'string', short: 'o' },
    diff: { type: 'string' },
    'sample-type': { type: 'string' },
    title: { type: 'string' },
    inverted: { type: 'boolean', default: false },
  },
  async run(values, positionals) {
    if (positionals.length !== 1) throw usageError(`expected one input file, got ${positionals.length} (see hotpath flamegraph --help)`);
    const input = positionals[0];
    const output = (values.output as string | undefined) ?? `${input.replace(/(\.pb\.gz|\.pb|\.folded|\.txt)$/, '')}.svg`;
    const format = output.endsWith('.html') ? 'html' : output.endsWith('.svg') ? 'svg' : null;
    if (!format) throw usageError(`invalid value for --output: "${output}" (the name must end in .svg or .html)`);
    const sampleType = values['sample-type'] as string | undefined;
    const { stacks, render } = await readStacks(input, sampleType);
    const diffBase = values.diff ? (await readStacks(values.diff as string, sampleType)).stacks : undefined;
    const opts = {
      title: (values.title as string | undefined) ?? (diffBase ? `Differential flamegraph: ${input} vs ${values.diff}` : `Flamegraph: ${input}`),
      inverted: values.inverted as boolean,
      ...render,
      diffBase,
    };
    const body = format === 'svg' ? renderSvg(stacks, opts) : renderHtml(stacks, opts);
    await writeFile(output, body);
    process.stderr.write(`hotpath flamegraph: wrote ${output} (${stacks.length} stacks)\n`);
    return 0;
  },
};

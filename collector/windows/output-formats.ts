// Writes a ProfileData in the format its file name asks for: .pb.gz (pprof), .folded, .svg, .html.
import { writeFile } from 'node:fs/promises';
import type { Profile } from 'pprof-format';
import { buildPprof, encodePprofGzip, toFolded, type ProfileData } from '../../exporters/pprof/index.js';
import { collapsePprofDetailed, renderHtml, renderSvg, type FoldedStack, type RenderOptions } from '../../flamegraph/index.js';
import { usageError } from '../errors.js';

export const OUTPUT_FORMATS = ['.pb.gz', '.folded', '.svg', '.html'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export function outputFormatOf(path: string): OutputFormat {
  const format = OUTPUT_FORMATS.find((ext) => path.endsWith(ext));
  if (!format) throw usageError(`invalid value for --output: "${path}" (the name must end in ${OUTPUT_FORMATS.join(', ')})`);
  return format;
}

/** Folds a pprof Profile for the flamegraph, with the options that label its values in the right unit. */
export function foldForFlamegraph(
  profile: Profile,
  opts: { sampleType?: string; processRoot?: boolean } = {},
): { stacks: FoldedStack[]; render: Pick<RenderOptions, 'unit' | 'sampleType'> } {
  const { stacks, sampleType } = collapsePprofDetailed(profile, opts);
  return { stacks, render: { unit: sampleType.unit, sampleType: sampleType.type } };
}

/** Renders a pprof Profile as a flamegraph page or SVG, one stack per process at the root. */
export function renderFlamegraph(profile: Profile, format: '.svg' | '.html', title: string, processRoot = true): string {
  const { stacks, render } = foldForFlamegraph(profile, { processRoot });
  const opts = { title, ...render };
  return format === '.svg' ? renderSvg(stacks, opts) : renderHtml(stacks, opts);
}

export async function encodeProfile(data: ProfileData, format: OutputFormat, title: string): Promise<Buffer> {
  switch (format) {
    case '.pb.gz':
      return encodePprofGzip(data);
    case '.folded':
      return Buffer.from(toFolded(data));
    case '.svg':
    case '.html':
      return Buffer.from(renderFlamegraph(buildPprof(data), format, title));
  }
}

export async function writeProfileFile(path: string, data: ProfileData, title: string): Promise<number> {
  const body = await encodeProfile(data, outputFormatOf(path), title);
  await writeFile(path, body);
  return body.length;
}

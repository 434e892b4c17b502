// /debug/pprof/symbol as Go's net/http/pprof answers it. `go tool pprof URL` posts the addresses of the
// frames a profile left unnamed ("0x4f1+0x5a2+...") to the symbol route beside the profile route, and gives
// up on the whole profile unless it gets a 200. We answer with the names we know for those addresses from
// the profiles we served; an address we cannot name is left out, which pprof accepts (the frame stays an
// address). Pure: no I/O, bounded in memory and in the work one request can cause.
import type { Profile } from 'pprof-format';
import type { ProfileData } from '../../exporters/pprof/index.js';

/** Addresses remembered across served profiles; past this the table starts again from the newest profile. */
export const MAX_REMEMBERED_ADDRESSES = 200_000;
/** Addresses read from one request (a profile of 127-frame stacks across a busy machine stays far below). */
export const MAX_QUERIED_ADDRESSES = 100_000;

/** The first line pprof reads: it only checks that the count is not 0. */
export const SYMBOL_HEADER = 'num_symbols: 1\n';

/**
 * Names of the addresses in served profiles. Addresses under file mappings are file-relative, so two files
 * can share an address: one named there, the other not (a stripped copy of a binary has the same layout), or
 * named differently. pprof's query does not say which file it asks about, so such an address is ambiguous
 * and never answered: a name is given only where every frame seen at that address had that name.
 */
export class SymbolTable {
  private names = new Map<bigint, string | null>();

  /**
   * Records the frames of a profile about to be served. When the table could overflow it starts again before
   * the profile, never in the middle of it; a profile larger than the bound keeps its first addresses.
   */
  remember(data: ProfileData): void {
    const frames = data.samples.flatMap((s) => s.frames.map((f) => ({ address: f.address, name: f.functionName || null })));
    const steps = this.rememberSteps(frames);
    while (!steps.next().done);
  }

  /**
   * remember() for a built pprof Profile, a step at a time (for the TimeSlicer): one entry per location, named
   * after its first line's function (none: unnamed).
   */
  rememberProfileSteps(profile: Profile): Generator<void, void> {
    const strings = profile.stringTable.strings;
    const names = new Map<number, string>();
    for (const f of profile.function) names.set(Number(f.id), strings[Number(f.name)] ?? '');
    const frames = profile.location.map((l) => ({
      address: BigInt(l.address),
      name: (l.line.length > 0 ? names.get(Number(l.line[0].functionId)) : undefined) || null,
    }));
    return this.rememberSteps(frames);
  }

  private *rememberSteps(frames: { address: bigint; name: string | null }[]): Generator<void, void> {
    const STEP = 2048;
    let unknown = 0; // an upper bound of the addresses this profile adds
    for (let i = 0; i < frames.length; i++) {
      if (!this.names.has(frames[i].address)) unknown++;
      if (i % STEP === STEP - 1) yield;
    }
    if (this.names.size + unknown > MAX_REMEMBERED_ADDRESSES) this.names = new Map();
    for (let i = 0; i < frames.length; i++) {
      const { address, name } = frames[i];
      const known = this.names.get(address);
      if (known === undefined) {
        if (this.names.size < MAX_REMEMBERED_ADDRESSES) this.names.set(address, name);
      } else if (known !== name) {
        this.names.set(address, null);
      }
      if (i % STEP === STEP - 1) yield;
    }
  }

  lookup(address: bigint): string | undefined {
    return this.names.get(address) ?? undefined;
  }

  get size(): number {
    return this.names.size;
  }

  /**
   * The answer to a symbol query: `num_symbols: 1`, then `0xADDR name` for every address named. `query` is
   * the POST body or the GET query string: addresses in Go's number syntax (0x hex, 0 octal, decimal)
   * separated by '+'; words that are not addresses are skipped, as Go skips them.
   */
  answer(query: string): string {
    const lines = [SYMBOL_HEADER];
    let read = 0;
    for (const word of query.split('+')) {
      if (++read > MAX_QUERIED_ADDRESSES) break;
      const address = parseAddress(word.trim());
      if (address === undefined || address === 0n) continue;
      const name = this.lookup(address);
      if (name !== undefined) lines.push(`0x${address.toString(16)} ${name}\n`);
    }
    return lines.join('');
  }
}

/** An unsigned 64-bit number as Go's strconv.ParseUint(s, 0, 64) reads it; undefined when it is not one. */
export function parseAddress(word: string): bigint | undefined {
  let digits: string;
  let radix: 'x' | 'o' | 'b' | 'd';
  if (/^0[xX][0-9a-fA-F]+$/.test(word)) [digits, radix] = [word.slice(2), 'x'];
  else if (/^0[oO]?[0-7]+$/.test(word)) [digits, radix] = [word.replace(/^0[oO]?/, ''), 'o'];
  else if (/^0[bB][01]+$/.test(word)) [digits, radix] = [word.slice(2), 'b'];
  else if (/^[1-9][0-9]*$/.test(word) || word === '0') [digits, radix] = [word, 'd'];
  else return undefined;
  if (digits.length > 64) return undefined;
  const value = radix === 'd' ? BigInt(digits) : BigInt(`0${radix}${digits}`);
  return value < 1n << 64n ? value : undefined;
}

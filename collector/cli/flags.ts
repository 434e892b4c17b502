// Pure parsing of command-line values. Each parser throws a usage error naming the flag and the value.
import { usageError } from '../errors.js';

const UNITS: Record<string, number> = { us: 1e-6, ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

/** Parses a duration: "10", "10s", "1.5m", "1h", "250ms", "5us" → seconds. A bare number is seconds. */
export function parseDuration(flag: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)(us|ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) throw usageError(`invalid value for ${flag}: "${text}" (expected a duration such as 10, 10s, 5m or 1h)`);
  const seconds = Number(m[1]) * UNITS[m[2] ?? 's'];
  if (!(seconds > 0) || !Number.isFinite(seconds)) throw usageError(`invalid value for ${flag}: "${text}" (must be positive)`);
  return seconds;
}

/** Parses an integer within [min, max]. */
export function parseInteger(flag: string, text: string, min: number, max: number): number {
  if (!/^\d+$/.test(text.trim())) throw usageError(`invalid value for ${flag}: "${text}" (expected a whole number)`);
  const n = Number(text);
  if (n < min || n > max) throw usageError(`invalid value for ${flag}: ${n} (must be between ${min} and ${max})`);
  return n;
}

export function parsePids(flag: string, values: string[] | undefined): number[] {
  const pids = (values ?? []).flatMap((v) => v.split(',')).map((v) => parseInteger(flag, v, 1, 4_194_304));
  return [...new Set(pids)];
}

/** Parses a byte size: "512M", "1G", "1048576". */
export function parseBytes(flag: string, text: string): number {
  const m = /^(\d+)([KMG]i?B?)?$/i.exec(text.trim());
  if (!m) throw usageError(`invalid value for ${flag}: "${text}" (expected a size such as 256M or 1G)`);
  const unit = (m[2] ?? '').charAt(0).toUpperCase();
  const mult = unit === 'K' ? 1024 : unit === 'M' ? 1024 ** 2 : unit === 'G' ? 1024 ** 3 : 1;
  const n = Number(m[1]) * mult;
  if (n <= 0) throw usageError(`invalid value for ${flag}: "${text}" (must be positive)`);
  return n;
}

export function parseChoice<T extends string>(flag: string, text: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(text)) {
    throw usageError(`invalid value for ${flag}: "${text}" (expected one of ${choices.join(', ')})`);
  }
  return text as T;
}

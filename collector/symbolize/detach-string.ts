// Names kept from a large text (a perf map, /proc/<pid>/maps, kallsyms) must not keep the text alive: V8
// makes a slice of 13 or more characters a view into its parent string, so one kept 30-character name would
// pin a 64 MiB perf map.

/** A copy of `s` that holds no reference to the string it was sliced from. */
export function detachString(s: string): string {
  // Prepending makes a rope; slicing it flattens the rope into a new string, and the slice views only that.
  return s.length < 13 ? s : (' ' + s).slice(1);
}

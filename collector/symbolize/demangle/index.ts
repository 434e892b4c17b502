// Public API of the symbol demangler: C++ (Itanium ABI) and Rust (legacy and v0) names for display.
import { demangleItanium } from './itanium.js';
import { demangleRustLegacy, demangleRustV0 } from './rust.js';

export { demangleItanium } from './itanium.js';
export { demangleRustLegacy, demangleRustV0 } from './rust.js';

/**
 * The display form of a symbol name, or undefined when it is not mangled or cannot be parsed (callers then
 * show the name as it is). Never throws; time and output are bounded by input length caps.
 */
export function demangle(symbol: string): string | undefined {
  try {
    if (symbol.startsWith('_R')) return demangleRustV0(symbol);
    if (!symbol.startsWith('_Z')) return undefined;
    // A legacy Rust name is also a valid Itanium name; its trailing hash part tells them apart.
    if (symbol.startsWith('_ZN')) {
      const rust = demangleRustLegacy(symbol);
      if (rust !== undefined) return rust;
    }
    return demangleItanium(symbol);
  } catch {
    return undefined;
  }
}

/** `demangle(symbol)`, falling back to the symbol itself. */
export function displayName(symbol: string): string {
  return demangle(symbol) ?? symbol;
}

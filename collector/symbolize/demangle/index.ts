// Public API of the symbol demangler: C++ (Itanium ABI) and Rust (legacy and v0) names for display.
import { type DemangleBudget, demangleItanium } from './itanium.js';
import { demangleRustLegacy, demangleRustV0 } from './rust.js';

export { demangleItanium, type DemangleBudget, MAX_OUTPUT as MAX_DEMANGLED_LENGTH, MAX_WORK as MAX_DEMANGLE_WORK } from './itanium.js';
export { demangleRustLegacy, demangleRustV0 } from './rust.js';

/**
 * The display form of a symbol name, or undefined when it is not mangled, cannot be parsed, or needs more than
 * the budget (at most MAX_DEMANGLED_LENGTH characters out, MAX_DEMANGLE_WORK characters built; then
 * `budget.overBudget` is set so the caller can count it). Callers show the name as it is then. Never throws;
 * a few milliseconds at most whatever the input.
 */
export function demangle(symbol: string, budget?: DemangleBudget): string | undefined {
  try {
    if (symbol.startsWith('_R')) return demangleRustV0(symbol, budget);
    if (!symbol.startsWith('_Z')) return undefined;
    // A legacy Rust name is also a valid Itanium name; its trailing hash part tells them apart.
    if (symbol.startsWith('_ZN')) {
      const rust = demangleRustLegacy(symbol);
      if (rust !== undefined) return rust;
    }
    return demangleItanium(symbol, budget);
  } catch {
    return undefined;
  }
}

/** `demangle(symbol)`, falling back to the symbol itself. */
export function displayName(symbol: string): string {
  return demangle(symbol) ?? symbol;
}

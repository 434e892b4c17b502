import type { FrameKind } from './types.js';

// V8 perf-map prefixes (--perf-basic-prof / --interpreted-frames-native-stack) and friends.
const JIT_PREFIXES = [
  'JS:', 'LazyCompile:', 'Builtin:', 'Interpreted', 'Function:', 'Script:', 'Eval:', 'RegExp:', 'Stub:',
  'BytecodeHandler:', 'Handler:', 'InterpretedFunction:',
];
const JS_FILE = /\.(?:m|c)?js$/;
// A perf-map name may carry its script position: `foo /app/x.js:1:20`.
const JS_POSITION = /\.(?:m|c)?js(?::\d+)*$/;

/**
 * classifyFrame decides a frame's kind from what a profile tells about it. Kernel wins over JIT because a
 * `[k]` suffix or the kallsyms mapping is explicit; a frame without a name (unsymbolized) is unknown.
 */
export function classifyFrame(name: string, mappingFile = '', sourceFile = ''): FrameKind {
  if (mappingFile === '[kernel.kallsyms]' || mappingFile.startsWith('[kernel') || name.endsWith('[k]')) return 'kernel';
  if (mappingFile === '[jit]' || JS_FILE.test(sourceFile) || JS_POSITION.test(name)) return 'jit';
  for (const p of JIT_PREFIXES) if (name.startsWith(p)) return 'jit';
  if (name === '' || name === '[unknown]' || mappingFile === '[unknown]') return 'unknown';
  return 'native';
}

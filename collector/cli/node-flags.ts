// The flags `hotpath serve` runs Node.js with (package.json start, the hotpath executable's first line, deploy/,
// the tests and the bench): they have to be given at launch, V8 ignores them once its heap exists.
//
// --max-semi-space-size=4: V8 grows the young generation to 16 MiB per semi-space (48 MiB with the large-object
// part) when a program allocates fast, as the agent does while it symbolizes a window. Measured with a busy
// machine at --hz 990 and process churn: resident 260-270 MiB with the default against 167-183 MiB with 4 MiB,
// and less CPU (12 s against 15-20 s of 100), since a scavenge of a small young generation is cheaper.
export const SERVE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];

/** The serve flags this process was started without (empty when all are there). */
export function missingServeNodeFlags(execArgv: readonly string[] = process.execArgv): string[] {
  return SERVE_NODE_FLAGS.filter((flag) => {
    const name = flag.split('=')[0];
    return !execArgv.some((a) => a === flag || a.startsWith(`${name}=`) || a === name || a.replace(/_/g, '-').startsWith(`${name}=`));
  });
}

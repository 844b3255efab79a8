/**
 * Command-line options of `pnpm bench`. Pure: no I/O, so tests call it with
 * any argv. Unknown flags are an error (a typo must not silently run the
 * full 10-minute benchmark).
 */

export interface BenchOptions {
  /** Fewer jobs, shorter offered-rate windows, one repetition: under a minute. Default false. */
  quick: boolean;
  /** Measured repetitions per tier (after one warm-up). Default 5, quick 1. */
  repetitions: number;
  /** Jobs per throughput scenario (drain at concurrency 1 uses a fifth). Default 10 000, quick 2 000. */
  jobs: number;
  /** Offered rates in events/s, the same for every tier. Default 1 000 and 3 000. */
  rates: number[];
  /** How long each offered rate is held, in ms. Default 5 000, quick 1 200. */
  rateWindowMs: number;
  /** Tiers to run, in order. Default all: A, B, C, D. */
  tiers: TierName[];
  /** Where latest.json and latest.svg go. Default bench/results. */
  outDir: string | undefined;
  /** Write a V8 CPU profile of every process the run starts (children, producer app) here. Default none. */
  cpuProfDir: string | undefined;
  /** Print the usage and exit. */
  help: boolean;
}

export const tierNames = ['A', 'B', 'C', 'D'] as const;
export type TierName = (typeof tierNames)[number];

export class BenchArgumentError extends Error {
  readonly code = 'SY_ERR_BENCH_ARGUMENT';
}

export const usage = `pnpm bench [--quick] [--reps N] [--jobs N] [--rates 1000,3000] [--window-ms N] [--tiers A,B,C,D] [--out DIR]

Starts its own redis-server on a free port and runs, side by side:
  A  the Redis limit: a BullMQ-shaped add script and finish-and-fetch-next script
  B  bare BullMQ 6.7
  C  Switchyard: HTTP ingest (apps/producer) -> fan-out -> worker runtime
     (plus the worker without logs, without metrics, without ctx.once)
  D  bee-queue 2 on the same Redis
Prints one table and writes latest.json and latest.svg under bench/results/.

  --quick         2 000 jobs, 1.2 s rate windows, 1 repetition (under a minute)
  --reps N        measured repetitions (default 5; quick 1)
  --jobs N        jobs per throughput scenario (default 10000; quick 2000)
  --rates A,B     offered rates in events/s (default 1000,3000)
  --window-ms N   how long each offered rate is held (default 5000; quick 1200)
  --tiers A,C     run only these tiers (ratios need B)
  --out DIR       output directory (default bench/results)
  --cpu-prof DIR  write a V8 CPU profile of every child process and the producer app to DIR`;

function positiveInt(flag: string, text: string | undefined, max: number): number {
  const value = Number(text);
  if (
    text === undefined ||
    !/^\d+$/.test(text) ||
    !Number.isSafeInteger(value) ||
    value < 1 ||
    value > max
  ) {
    throw new BenchArgumentError(`${flag} needs an integer in 1..${max}, got ${text ?? 'nothing'}`);
  }
  return value;
}

export function parseArgs(argv: readonly string[]): BenchOptions {
  const quick = argv.includes('--quick');
  const options: BenchOptions = {
    quick,
    repetitions: quick ? 1 : 5,
    jobs: quick ? 2_000 : 10_000,
    rates: [1_000, 3_000],
    rateWindowMs: quick ? 1_200 : 5_000,
    tiers: [...tierNames],
    outDir: undefined,
    cpuProfDir: undefined,
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const [name, inline] = flag.includes('=') ? flag.split(/=(.*)/s, 2) : [flag, undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    switch (name) {
      case '--quick':
        break;
      case '--':
        break;
      case '-h':
      case '--help':
        options.help = true;
        break;
      case '--reps':
        options.repetitions = positiveInt('--reps', value(), 100);
        break;
      case '--jobs':
        options.jobs = positiveInt('--jobs', value(), 10_000_000);
        break;
      case '--window-ms':
        options.rateWindowMs = positiveInt('--window-ms', value(), 600_000);
        break;
      case '--rates': {
        const text = value() ?? '';
        options.rates = text
          .split(',')
          .map((part) => positiveInt('--rates', part.trim(), 1_000_000));
        break;
      }
      case '--tiers': {
        const text = (value() ?? '').toUpperCase();
        const tiers = text.split(',').map((part) => part.trim());
        for (const tier of tiers) {
          if (!(tierNames as readonly string[]).includes(tier)) {
            throw new BenchArgumentError(
              `--tiers takes a comma-separated subset of ${tierNames.join(',')}, got "${text}"`,
            );
          }
        }
        options.tiers = tierNames.filter((tier) => tiers.includes(tier));
        break;
      }
      case '--out': {
        const text = value();
        if (text === undefined || text === '')
          throw new BenchArgumentError('--out needs a directory');
        options.outDir = text;
        break;
      }
      case '--cpu-prof': {
        const text = value();
        if (text === undefined || text === '')
          throw new BenchArgumentError('--cpu-prof needs a directory');
        options.cpuProfDir = text;
        break;
      }
      default:
        throw new BenchArgumentError(`unknown argument "${flag}"; see --help`);
    }
  }
  return options;
}

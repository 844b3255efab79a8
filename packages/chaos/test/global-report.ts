/**
 * vitest globalSetup: starts a fresh results file before the first scenario
 * and prints the report table of every scenario of the run at the end, so the
 * table closes `pnpm test:chaos` output (src/report.ts).
 */
import { formatReport, readResults, resetResults, resultsPath } from '../src/report.ts';

export function setup(): () => void {
  resetResults();
  return () => {
    const results = readResults();
    if (results.rows.length === 0) return;
    process.stdout.write(`\n${formatReport(results)}\n(rows: ${resultsPath()})\n\n`);
  };
}

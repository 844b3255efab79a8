// Module resolve hook: appends every resolved module URL to the file named by
// SY_TEST_MODULE_LOG, one per line. CommonJS require() calls made inside
// CommonJS packages do not pass through it; the ESM imports that load them do.
import { appendFileSync } from 'node:fs';

const file = process.env.SY_TEST_MODULE_LOG;

export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  if (file) appendFileSync(file, `${result.url}\n`);
  return result;
}

/**
 * `pnpm --silent --filter @switchyard/dashboard hash-password`: reads a
 * password from stdin and prints its scrypt hash for DASHBOARD_USERS
 * (`name:role:<hash>`). On a terminal it prompts and does not echo; piped,
 * it reads everything up to the end (one trailing newline dropped).
 */
import { hashPassword } from './password-hash.js';

const minLength = 8;

async function readPiped(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

function readHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const input = process.stdin;
    process.stderr.write(prompt);
    input.setRawMode(true);
    input.setEncoding('utf8');
    input.resume();
    let password = '';
    const finish = (error?: Error): void => {
      input.setRawMode(false);
      input.pause();
      input.off('data', onData);
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(password);
    };
    const onData = (text: string): void => {
      for (const character of text) {
        if (character === '\r' || character === '\n') return finish();
        if (character === '\u0003') return finish(new Error('cancelled'));
        if (character === '\u007f' || character === '\b') password = password.slice(0, -1);
        else password += character;
      }
    };
    input.on('data', onData);
  });
}

try {
  const password = process.stdin.isTTY ? await readHidden('Password: ') : await readPiped();
  if (password.length < minLength) {
    process.stderr.write(`hash-password: the password needs at least ${minLength} characters\n`);
    process.exit(2);
  }
  process.stdout.write(`${await hashPassword(password)}\n`);
} catch (error) {
  process.stderr.write(
    `hash-password: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
}

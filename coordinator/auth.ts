import { readFileSync } from 'node:fs';
import { createHash, timingSafeEqual } from 'node:crypto';
import { UserError } from '../core/errors.ts';

/** Environment variable that may hold the site tokens: `site=token,site=token`. */
export const TOKENS_ENV = 'FEDKD_TOKENS';

/** The stored form of a token: `sha256:HEX`. Tokens themselves are never stored or logged. */
export function hashToken(token: string): string {
  return `sha256:${createHash('sha256').update(token, 'utf8').digest('hex')}`;
}

/** True when `token` hashes to `stored`, compared in constant time. */
export function tokenMatches(stored: string, token: string): boolean {
  const a = Buffer.from(stored);
  const b = Buffer.from(hashToken(token));
  return a.length === b.length && timingSafeEqual(a, b);
}

const SITE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** True for a usable site id (letters, digits, `_.-`, at most 64 characters). */
export function isSiteId(s: string): boolean {
  return SITE_ID.test(s);
}

/**
 * Parses a tokens file: one `SITE TOKEN` or `SITE sha256:HEX` per line (`#` comments).
 * Returns site id → hashed token; plain tokens are hashed at once.
 */
export function parseTokens(text: string, source: string): Map<string, string> {
  const out = new Map<string, string>();
  text.split(/\r?\n/).forEach((line, i) => {
    const l = line.replace(/#.*/, '').trim();
    if (!l) return;
    const parts = l.split(/\s+|=/);
    if (parts.length !== 2 || !isSiteId(parts[0]) || !parts[1]) throw new UserError(`${source}:${i + 1}: expected 'SITE TOKEN' or 'SITE sha256:HEX'`);
    const [site, secret] = parts;
    if (out.has(site)) throw new UserError(`${source}:${i + 1}: site ${site} listed twice`);
    out.set(site, /^sha256:[0-9a-f]{64}$/.test(secret) ? secret : hashToken(secret));
  });
  return out;
}

/** The site tokens from `file`, else from FEDKD_TOKENS; a coordinator without any is a user error. */
export function loadTokens(file: string | undefined, env: NodeJS.ProcessEnv = process.env): Map<string, string> {
  let tokens: Map<string, string>;
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new UserError(`cannot read tokens file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    tokens = parseTokens(text, file);
  } else if (env[TOKENS_ENV]) {
    tokens = parseTokens(env[TOKENS_ENV].split(',').join('\n'), TOKENS_ENV);
  } else {
    throw new UserError(`no site tokens: set tokensFile in the config or ${TOKENS_ENV}=site=token,...`);
  }
  if (tokens.size === 0) throw new UserError('no site tokens given');
  return tokens;
}

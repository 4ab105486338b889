/**
 * API keys with scopes. Keys are compared in constant time (on their SHA-256, so lengths don't
 * leak either); "no key" and "unknown key" are 401, "known key without the scope" is 403.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { QuiverError } from '../errors.js';

export type Scope = 'read' | 'write' | 'admin';

export interface ApiKey {
  key: string;
  scopes: Scope[];
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** QUIVER_API_KEYS="key1:read,write;key2:admin" */
export function parseApiKeys(spec: string | undefined): ApiKey[] {
  if (!spec) return [];
  return spec
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const [key, scopes] = entry.split(':');
      const list = (scopes ?? 'read').split(',').map((x) => x.trim()) as Scope[];
      for (const s of list) {
        if (!['read', 'write', 'admin'].includes(s)) {
          throw new QuiverError('INVALID_CONFIG', `unknown API key scope "${s}" (use read, write, admin)`, {
            location: { field: 'QUIVER_API_KEYS' },
          });
        }
      }
      if (!key)
        throw new QuiverError('INVALID_CONFIG', 'empty API key in QUIVER_API_KEYS', {
          location: { field: 'QUIVER_API_KEYS' },
        });
      return { key, scopes: list };
    });
}

export class Authenticator {
  private readonly keys: { hash: Buffer; scopes: Set<Scope> }[];

  constructor(
    keys: ApiKey[],
    readonly open: boolean,
  ) {
    this.keys = keys.map((k) => ({ hash: digest(k.key), scopes: new Set(k.scopes) }));
  }

  get enabled(): boolean {
    return !this.open;
  }

  /** The key's scopes, or a 401 error. Every stored key is compared, so timing says nothing. */
  identify(header: string | undefined): Set<Scope> {
    if (this.open) return new Set(['read', 'write', 'admin']);
    if (!header) throw new QuiverError('UNAUTHORIZED', 'no API key: send "Authorization: Bearer <key>"');
    const presented = digest(header.replace(/^Bearer\s+/i, '').trim());
    let found: Set<Scope> | undefined;
    for (const k of this.keys) if (timingSafeEqual(k.hash, presented)) found = k.scopes;
    if (!found) throw new QuiverError('UNAUTHORIZED', 'unknown API key');
    return found;
  }

  require(header: string | undefined, scope: Scope): void {
    const scopes = this.identify(header);
    if (scopes.has('admin') || scopes.has(scope)) return;
    throw new QuiverError('FORBIDDEN', `this API key lacks the "${scope}" scope`);
  }
}

/**
 * API keys: how they are made, stored and read from a request. A key is
 * `mk_` + 32 random bytes in base64url (256 bits: not guessable, so a fast
 * hash is enough); only its SHA-256 is stored. Pure functions, no I/O.
 */

/** What every key starts with, so a leaked one is recognisable (secret scanners, logs). */
export const keyPrefix = "mk_";

const keyPattern = /^mk_[A-Za-z0-9_-]{43}$/;

/** A new random key. */
export function generateApiKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `${keyPrefix}${Buffer.from(bytes).toString("base64url")}`;
}

/** True when `key` has the shape of a key this gateway makes (checked before any lookup). */
export function isWellFormedKey(key: string): boolean {
  return keyPattern.test(key);
}

/** The stored form of a key: its SHA-256, hex. */
export function hashApiKey(key: string): string {
  return new Bun.CryptoHasher("sha256").update(key).digest("hex");
}

/** The first characters of a key, safe to show (identifies it without revealing it). */
export function displayPrefix(key: string): string {
  return key.slice(0, keyPrefix.length + 6);
}

/** The key of an `authorization: Bearer <key>` header; undefined when there is none or it is not a bearer token. */
export function bearerKeyOf(authorization: string | null | undefined): string | undefined {
  if (authorization === null || authorization === undefined) return undefined;
  const match = /^Bearer[ ]+(\S+)[ ]*$/i.exec(authorization);
  return match?.[1];
}

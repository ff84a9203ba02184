import { describe, expect, test } from "bun:test";
import { bearerKeyOf, displayPrefix, generateApiKey, hashApiKey, isWellFormedKey } from "./api-keys.js";

describe("API keys", () => {
  test("a generated key is mk_ and 32 random bytes in base64url, different every time", () => {
    const keys = new Set(Array.from({ length: 100 }, generateApiKey));
    expect(keys.size).toBe(100);
    for (const key of keys) {
      expect(isWellFormedKey(key)).toBe(true);
      expect(Buffer.from(key.slice(3), "base64url")).toHaveLength(32);
    }
  });

  test("the stored hash is the key's SHA-256 in hex, and does not contain the key", () => {
    const key = generateApiKey();
    const hash = hashApiKey(key);
    expect(hash).toBe(new Bun.CryptoHasher("sha256").update(key).digest("hex"));
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hash).not.toContain(key.slice(3, 20));
    expect(hashApiKey(key)).toBe(hash);
  });

  test("keys of another shape are refused before any lookup", () => {
    expect(isWellFormedKey("mk_short")).toBe(false);
    expect(isWellFormedKey(`xx_${"a".repeat(43)}`)).toBe(false);
    expect(isWellFormedKey(`mk_${"a".repeat(42)}!`)).toBe(false);
  });

  test("the bearer key is read from the authorization header, scheme case-insensitive", () => {
    expect(bearerKeyOf("Bearer mk_abc")).toBe("mk_abc");
    expect(bearerKeyOf("bearer   mk_abc ")).toBe("mk_abc");
    expect(bearerKeyOf("Basic dXNlcjpwdw==")).toBeUndefined();
    expect(bearerKeyOf("Bearer")).toBeUndefined();
    expect(bearerKeyOf(null)).toBeUndefined();
  });

  test("the display prefix shows the kind and six characters, never the whole secret", () => {
    const key = generateApiKey();
    expect(displayPrefix(key)).toHaveLength(9);
    expect(key.startsWith(displayPrefix(key))).toBe(true);
  });
});

import { createClient } from "redis";

/**
 * Deletes every key under `prefix` in the Redis at `url` (streams, cache entries, rate-limit
 * buckets): what a test run or a bench, each under a prefix of its own, leaves behind on a
 * shared Redis.
 */
export async function dropRedisKeys(url: string, prefix: string): Promise<void> {
  const client = createClient({ url });
  await client.connect();
  try {
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) if (keys.length > 0) await client.unlink(keys);
  } finally {
    await client.close();
  }
}

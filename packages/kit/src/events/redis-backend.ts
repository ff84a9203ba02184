/**
 * The stream store on Redis Streams. Appends and dead-lettering are Lua scripts, so the length
 * cap, the "only trim what every group acknowledged" rule and the marker check are atomic with
 * the write.
 */
import { createHash } from "node:crypto";
import { RESP_TYPES } from "redis";
import { Effect, Exit, Scope } from "effect";
import type { RedisClient, RedisConnection } from "../redis/connection.js";
import {
  MarkerLost,
  StreamFull,
  type Consumption,
  type DeadLetter,
  type Delivery,
  type StreamBackend,
  type StreamReader,
} from "./backend.js";

const library = `
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function before(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  return am < bm or (am == bm and as < bs)
end
-- The id before which every group has acknowledged every entry; false when no group reads it.
local function consumed_before(stream)
  if redis.call('EXISTS', stream) == 0 then return false end
  local groups = redis.call('XINFO', 'GROUPS', stream)
  if #groups == 0 then return false end
  local safe = nil
  for _, g in ipairs(groups) do
    local name, last
    for i = 1, #g, 2 do
      if g[i] == 'name' then name = g[i + 1] elseif g[i] == 'last-delivered-id' then last = g[i + 1] end
    end
    local ms, seq = string.match(last, '^(%d+)-(%d+)$')
    local bound = ms .. '-' .. string.format('%d', tonumber(seq) + 1)
    local pending = redis.call('XPENDING', stream, name)
    if pending[1] > 0 and before(pending[2], bound) then bound = pending[2] end
    if safe == nil or before(bound, safe) then safe = bound end
  end
  return safe
end
-- Appends under the cap: trims what every group acknowledged; nil when still full. Without
-- groups the oldest entries go, and their number is returned.
local function append(stream, max_len, fields)
  local dropped = 0
  if redis.call('XLEN', stream) >= max_len then
    local safe = consumed_before(stream)
    if safe then
      redis.call('XTRIM', stream, 'MINID', safe)
      if redis.call('XLEN', stream) >= max_len then return nil end
    else
      dropped = redis.call('XTRIM', stream, 'MAXLEN', max_len - 1)
    end
  end
  return {redis.call('XADD', stream, '*', unpack(fields)), dropped}
end
`;

// KEYS: stream [, marker]; ARGV: max_len, marker token, envelope, envelope, ...
// Returns {ids appended, entries dropped}: fewer ids than envelopes when the stream filled up.
const appendScript = `${library}
if KEYS[2] ~= nil and redis.call('GET', KEYS[2]) ~= ARGV[2] then return redis.error_reply('MARKERLOST the outbox marker is gone') end
local ids = {}
local dropped = 0
for i = 3, #ARGV do
  local result = append(KEYS[1], tonumber(ARGV[1]), {'envelope', ARGV[i]})
  if result == nil then break end
  ids[#ids + 1] = result[1]
  dropped = dropped + result[2]
end
return {ids, dropped}
`;

// KEYS: stream, dead-letter stream; ARGV: group, id, max_len, field, value, ...
const deadLetterScript = `${library}
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #pending == 0 then return 0 end
local fields = {}
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
local result = append(KEYS[2], tonumber(ARGV[3]), fields)
if result == nil then return redis.error_reply('STREAMFULL the stream is full of unacknowledged entries') end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return 1
`;

// KEYS: stream, marker; ARGV: marker token
const consumptionScript = `${library}
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return {'lost'} end
local safe = consumed_before(KEYS[1])
if not safe then return {'noGroups'} end
return {'before', safe}
`;

const asBuffers = { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } } as const;

type RawEntry = [Buffer, Buffer[] | null] | null;

/** The stream store on `redis`; each reader gets a connection of its own for blocking reads. */
export function redisBackend(redis: RedisConnection): StreamBackend {
  const { client } = redis;
  const run = scriptRunner(client);

  return {
    append: async (stream, envelopes, { maxLen, marker }) => {
      const keys = marker === undefined ? [stream] : [stream, marker.key];
      const reply = await run(appendScript, keys, [String(maxLen), marker?.token ?? "", ...envelopes.map(asBuffer)]).catch((e: unknown) => {
        throw translate(e, stream, marker?.key);
      });
      const [ids, dropped] = reply as [string[], number];
      return { streamIds: ids.map(String), droppedUnconsumed: Number(dropped) };
    },

    ensureGroup: (stream, group) => ensureGroup(client, stream, group),

    openReader: async () => {
      const scope = Scope.makeUnsafe();
      const dedicated = await Effect.runPromise(Scope.provide(scope)(redis.dedicated));
      return readerOn(dedicated, () => void Effect.runFork(Scope.close(scope, Exit.void)));
    },

    claimStale: async (stream, group, consumer, minIdleMs, count) => {
      const [, rawEntries, deleted] = await client.sendCommand<[Buffer, RawEntry[], Buffer[]]>(
        ["XAUTOCLAIM", stream, group, consumer, String(minIdleMs), "0-0", "COUNT", String(count)],
        asBuffers,
      );
      const entries = rawEntries.filter((e): e is [Buffer, Buffer[] | null] => e !== null);
      const counts = await deliveryCounts(client, stream, group, consumer, entries.map(([id]) => id.toString()));
      return {
        deliveries: entries.map(([id, fields]) => toDelivery(id, fields, counts)),
        missing: (deleted ?? []).map((id) => id.toString()),
      };
    },

    claim: async (stream, group, consumer, ids, minIdleMs) => {
      if (ids.length === 0) return [];
      const raw = await client.sendCommand<RawEntry[]>(["XCLAIM", stream, group, consumer, String(minIdleMs), ...ids], asBuffers);
      const entries = raw.filter((e): e is [Buffer, Buffer[] | null] => e !== null);
      const counts = await deliveryCounts(client, stream, group, consumer, entries.map(([id]) => id.toString()));
      return entries.map(([id, fields]) => toDelivery(id, fields, counts));
    },

    release: async (stream, group, consumer, deliveries, idleMs) => {
      // RETRYCOUNT takes one value per call: one XCLAIM per delivery count.
      const byCount = new Map<number, string[]>();
      for (const d of deliveries) byCount.set(d.deliveries - 1, [...(byCount.get(d.deliveries - 1) ?? []), d.streamId]);
      await Promise.all(
        [...byCount].map(([count, ids]) =>
          client.sendCommand(["XCLAIM", stream, group, consumer, "0", ...ids, "IDLE", String(idleMs), "RETRYCOUNT", String(count), "JUSTID"]),
        ),
      );
    },

    touch: async (stream, group, consumer, ids) => {
      if (ids.length === 0) return;
      await client.sendCommand(["XCLAIM", stream, group, consumer, "0", ...ids, "JUSTID"]);
    },

    ack: async (stream, group, ids) => {
      if (ids.length === 0) return;
      await client.sendCommand(["XACK", stream, group, ...ids]);
    },

    deadLetter: async (stream, group, delivery, deadLetterStream, { reason, maxLen }) => {
      const fields = [
        "envelope",
        delivery.envelope === undefined ? "" : asBuffer(delivery.envelope),
        "reason",
        reason,
        "group",
        group,
        "deliveries",
        String(delivery.deliveries),
        "stream_id",
        delivery.streamId,
        "failed_at",
        String(Date.now()),
      ];
      const moved = await run(deadLetterScript, [stream, deadLetterStream], [group, delivery.streamId, String(maxLen), ...fields]).catch(
        (e: unknown) => {
          throw translate(e, deadLetterStream, undefined);
        },
      );
      return Number(moved) === 1;
    },

    readDeadLetters: async (deadLetterStream, count) => {
      const raw = await client.sendCommand<Array<[Buffer, Buffer[]]>>(["XRANGE", deadLetterStream, "-", "+", "COUNT", String(count)], asBuffers);
      return raw.map(([id, flat]): DeadLetter => {
        const fields = new Map<string, Buffer>();
        for (let i = 0; i + 1 < flat.length; i += 2) fields.set(flat[i]!.toString(), flat[i + 1]!);
        const envelope = fields.get("envelope");
        return {
          streamId: id.toString(),
          envelope: envelope === undefined || envelope.length === 0 ? undefined : new Uint8Array(envelope),
          reason: fields.get("reason")?.toString() ?? "",
          group: fields.get("group")?.toString() ?? "",
          deliveries: Number(fields.get("deliveries")?.toString() ?? 0),
          originalStreamId: fields.get("stream_id")?.toString() ?? "",
          failedAt: new Date(Number(fields.get("failed_at")?.toString() ?? 0)),
        };
      });
    },

    consumption: async (stream, marker): Promise<Consumption> => {
      const [tag, streamId] = (await run(consumptionScript, [stream, marker.key], [marker.token])) as [string, string?];
      if (tag === "lost") return { _tag: "lost" };
      if (tag === "noGroups") return { _tag: "noGroups" };
      return { _tag: "before", streamId: String(streamId) };
    },

    setMarker: async (marker) => {
      await client.sendCommand(["SET", marker.key, marker.token]);
    },

    lastId: async (stream) => {
      // XINFO fails on a missing key; XREVRANGE of the newest entry would miss trimmed history, so ask for last-generated-id.
      const exists = await client.sendCommand<number>(["EXISTS", stream]);
      if (exists === 0) return "0-0";
      const info = await client.sendCommand<Array<unknown> | Record<string, unknown>>(["XINFO", "STREAM", stream]);
      if (!Array.isArray(info)) return String(info["last-generated-id"] ?? "0-0");
      const at = info.findIndex((field) => String(field) === "last-generated-id");
      return at < 0 ? "0-0" : String(info[at + 1]);
    },
  };
}

function readerOn(dedicated: RedisClient, close: () => void): StreamReader {
  return {
    readNew: async (stream, group, consumer, count, blockMs) => {
      if (!dedicated.isReady) await ready(dedicated, blockMs);
      const read = () =>
        dedicated.sendCommand<Record<string, RawEntry[]> | null>(
          ["XREADGROUP", "GROUP", group, consumer, "COUNT", String(count), "BLOCK", String(Math.max(1, Math.round(blockMs))), "STREAMS", stream, ">"],
          asBuffers,
        );
      let reply: Record<string, RawEntry[]> | null;
      try {
        reply = await read();
      } catch (e) {
        // The group (or the whole stream) vanished: Redis restarted empty, or someone deleted it.
        if (!String((e as Error)?.message).startsWith("NOGROUP")) throw e;
        await ensureGroup(dedicated, stream, group);
        return [];
      }
      if (reply === null) return [];
      const entries = Object.values(reply)[0] ?? [];
      return entries
        .filter((e): e is [Buffer, Buffer[] | null] => e !== null)
        .map(([id, fields]) => ({ streamId: id.toString(), envelope: envelopeOf(fields), deliveries: 1 }));
    },
    readAfter: async (stream, afterId, count, blockMs) => {
      if (!dedicated.isReady) await ready(dedicated, blockMs);
      const reply = await dedicated.sendCommand<Record<string, RawEntry[]> | null>(
        ["XREAD", "COUNT", String(count), "BLOCK", String(Math.max(1, Math.round(blockMs))), "STREAMS", stream, afterId],
        asBuffers,
      );
      if (reply === null) return [];
      const entries = Object.values(reply)[0] ?? [];
      return entries
        .filter((e): e is [Buffer, Buffer[] | null] => e !== null)
        .map(([id, fields]) => ({ streamId: id.toString(), envelope: envelopeOf(fields), deliveries: 1 }));
    },
    close,
  };
}

// A reader's connection opens in the background and after each loss; wait a read's worth for it.
function ready(client: RedisClient, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      client.off("ready", onReady);
      reject(new Error("redis is not connected"));
    }, timeoutMs);
    client.once("ready", onReady);
  });
}

async function ensureGroup(client: RedisClient, stream: string, group: string): Promise<void> {
  try {
    await client.sendCommand(["XGROUP", "CREATE", stream, group, "0", "MKSTREAM"]);
  } catch (e) {
    if (!String((e as Error)?.message).startsWith("BUSYGROUP")) throw e;
  }
}

async function deliveryCounts(
  client: RedisClient,
  stream: string,
  group: string,
  consumer: string,
  ids: ReadonlyArray<string>,
): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  if (ids.length === 0) return counts;
  const sorted = [...ids].sort(compareIds);
  const pending = await client.sendCommand<Array<[string, string, number, number]>>([
    "XPENDING",
    stream,
    group,
    sorted[0]!,
    sorted[sorted.length - 1]!,
    String(Math.max(ids.length * 2, 100)),
    consumer,
  ]);
  for (const [id, , , deliveries] of pending) counts.set(String(id), Number(deliveries));
  return counts;
}

function toDelivery(id: Buffer, fields: Buffer[] | null, counts: Map<string, number>): Delivery {
  const streamId = id.toString();
  return { streamId, envelope: envelopeOf(fields), deliveries: counts.get(streamId) ?? 1 };
}

function envelopeOf(fields: Buffer[] | null): Uint8Array | undefined {
  if (fields === null) return undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i]!.toString() === "envelope") return new Uint8Array(fields[i + 1]!);
  }
  return undefined;
}

const compareIds = (a: string, b: string): number => {
  const [am = 0, as = 0] = a.split("-").map(Number);
  const [bm = 0, bs = 0] = b.split("-").map(Number);
  return am === bm ? as - bs : am - bm;
};

const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

function translate(e: unknown, stream: string, markerKey: string | undefined): unknown {
  const message = String((e as Error)?.message ?? e);
  if (/^(ERR )?STREAMFULL/.test(message)) return new StreamFull({ stream });
  if (/^(ERR )?MARKERLOST/.test(message)) return new MarkerLost({ key: markerKey ?? "" });
  return e;
}

// EVALSHA, falling back to EVAL when the script cache is empty (a restarted Redis).
function scriptRunner(client: RedisClient) {
  const shas = new Map<string, string>();
  return async (script: string, keys: ReadonlyArray<string>, args: ReadonlyArray<string | Buffer>): Promise<unknown> => {
    let sha = shas.get(script);
    if (sha === undefined) {
      sha = createHash("sha1").update(script).digest("hex");
      shas.set(script, sha);
    }
    const tail = [String(keys.length), ...keys, ...args];
    try {
      return await client.sendCommand(["EVALSHA", sha, ...tail]);
    } catch (e) {
      if (!String((e as Error)?.message).startsWith("NOSCRIPT")) throw e;
      return client.sendCommand(["EVAL", script, ...tail]);
    }
  };
}

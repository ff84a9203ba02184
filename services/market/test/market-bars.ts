/**
 * Bars for tests: a run of violent days after a given one, which pushes the index into a crisis.
 */
import { create } from "@bufbuild/protobuf";
import { BarSchema, type Bar } from "@meridian/sdk/market";

/** The `days` weekdays after `after` ("YYYY-MM-DD"). */
export function weekdaysAfter(after: string, days: number): string[] {
  const out: string[] = [];
  for (let at = Date.parse(`${after}T00:00:00Z`) + 86_400_000; out.length < days; at += 86_400_000) {
    const weekday = new Date(at).getUTCDay();
    if (weekday !== 0 && weekday !== 6) out.push(new Date(at).toISOString().slice(0, 10));
  }
  return out;
}

/** `days` bars from `lastClose` falling 7% and rising 2% on alternate days: about 50% down in 25 days, wildly volatile. */
export function crashBars(lastClose: bigint, lastDate: string, days = 25): Bar[] {
  let close = Number(lastClose);
  return weekdaysAfter(lastDate, days).map((date, i) => {
    const open = close;
    close = close * (i % 2 === 0 ? 0.93 : 1.02);
    const top = Math.max(open, close);
    const bottom = Math.min(open, close);
    return create(BarSchema, {
      date,
      openMicros: BigInt(Math.round(open)),
      highMicros: BigInt(Math.round(top * 1.005)),
      lowMicros: BigInt(Math.round(bottom * 0.995)),
      closeMicros: BigInt(Math.round(close)),
      volume: 1_000_000n,
    });
  });
}

import postgres from "postgres";
import { shippedData } from "./seeding.js";
const { series } = shippedData();
const sql = postgres("postgres://postgres@127.0.0.1:5432/test", { max: 1, onnotice: () => {} });
await sql`create temp table bars (symbol text not null, date date not null, open_micros bigint not null check (open_micros > 0), high_micros bigint not null check (high_micros >= greatest(open_micros, close_micros)), low_micros bigint not null check (low_micros > 0 and low_micros <= least(open_micros, close_micros)), close_micros bigint not null check (close_micros > 0), volume bigint not null check (volume >= 0), updated_at timestamptz not null default now(), primary key (symbol, date))`;
const rows = series.flatMap((s) => s.bars.map((bar) => ({ symbol: s.symbol, bar })));
for (const size of [10000]) {
  await sql`truncate bars`;
  const t0 = performance.now();
  let ser = 0;
  for (let at = 0; at < rows.length; at += size) {
    const batch = rows.slice(at, at + size);
    const s0 = performance.now();
    const arrays = [batch.map((r) => r.symbol), batch.map((r) => r.bar.date), batch.map((r) => String(r.bar.openMicros)), batch.map((r) => String(r.bar.highMicros)), batch.map((r) => String(r.bar.lowMicros)), batch.map((r) => String(r.bar.closeMicros)), batch.map((r) => String(r.bar.volume))];
    ser += performance.now() - s0;
    await sql`insert into bars (symbol, date, open_micros, high_micros, low_micros, close_micros, volume)
      select * from unnest(${arrays[0]}::text[], ${arrays[1]}::date[], ${arrays[2]}::bigint[], ${arrays[3]}::bigint[], ${arrays[4]}::bigint[], ${arrays[5]}::bigint[], ${arrays[6]}::bigint[]) on conflict (symbol, date) do nothing`;
  }
  console.log("unnest", size, Math.round(performance.now() - t0), "ms; arrays", Math.round(ser));
  await sql`truncate bars`;
  const t1 = performance.now();
  const lines = rows.map((r) => `${r.symbol}\t${r.bar.date}\t${r.bar.openMicros}\t${r.bar.highMicros}\t${r.bar.lowMicros}\t${r.bar.closeMicros}\t${r.bar.volume}\n`).join("");
  const w = await sql`copy bars (symbol, date, open_micros, high_micros, low_micros, close_micros, volume) from stdin`.writable();
  await new Promise<void>((res, rej) => { w.on("error", rej); w.on("finish", () => res()); w.end(lines); });
  console.log("copy", Math.round(performance.now() - t1), "ms");
}
await sql.end();

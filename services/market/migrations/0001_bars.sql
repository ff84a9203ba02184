-- Daily OHLCV bars, one row per symbol and trading day. Prices in micros of the currency unit.
-- The market index is stored here too, under the symbol '^MERIDIAN'.
create table bars (
  symbol       text not null,
  date         date not null,
  open_micros  bigint not null check (open_micros > 0),
  high_micros  bigint not null check (high_micros >= greatest(open_micros, close_micros)),
  low_micros   bigint not null check (low_micros > 0 and low_micros <= least(open_micros, close_micros)),
  close_micros bigint not null check (close_micros > 0),
  volume       bigint not null check (volume >= 0),
  updated_at   timestamptz not null default now(),
  primary key (symbol, date)
);

-- The regime changes: a row each time the classification differed from the last row.
create table regime_history (
  id          bigint generated always as identity primary key,
  regime      integer not null,
  confidence  double precision not null check (confidence between 0 and 1),
  -- RegimeIndicators as JSON: volatility20d, volatility60d, trend50200, drawdownFromPeak, breadth, return60d
  indicators  jsonb not null,
  as_of       date not null,
  computed_at timestamptz not null default now()
);

create index regime_history_as_of on regime_history (as_of, id);

-- The securities master.
create table securities (
  symbol     text primary key,
  name       text not null,
  sector     integer not null,
  currency   char(3) not null,
  active     boolean not null default true,
  updated_at timestamptz not null default now()
);

create index securities_sector_symbol on securities (sector, symbol);

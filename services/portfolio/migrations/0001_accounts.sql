-- Accounts with their cash and realised P&L, moved only by applied fills.
create table accounts (
  account_id          uuid primary key,
  owner               text not null,
  risk_profile        smallint not null,
  currency            char(3) not null,
  initial_cash_minor  bigint not null check (initial_cash_minor > 0),
  -- the same (owner, key) returns the same account
  idempotency_key     text not null,
  opened_at           timestamptz not null default now(),
  cash_minor          bigint not null,
  realized_pnl_minor  bigint not null default 0,
  fills_applied       bigint not null default 0,
  unique (owner, idempotency_key)
);

create index accounts_owner on accounts (owner, opened_at, account_id);

-- What each account holds now; a position sold to zero is deleted.
create table positions (
  account_id        uuid not null references accounts (account_id),
  symbol            text not null,
  quantity          bigint not null check (quantity > 0),
  -- what the shares held cost, in minor units (gross amounts of the buys, less the cost of shares sold)
  cost_basis_minor  bigint not null,
  -- the latest fill's price and day: what the position is valued at when no quote can be had
  last_price_micros bigint not null,
  last_price_date   date not null,
  primary key (account_id, symbol)
);

-- The ledger of applied fills, one row per fill_id (a fill is applied once whatever envelope
-- carries it): rebuilds the holdings of any past day for GetPerformance.
create table fills (
  fill_id                  text primary key,
  seq                      bigint generated always as identity,
  account_id               uuid not null references accounts (account_id),
  order_id                 text not null,
  symbol                   text not null,
  side                     smallint not null, -- 1 buy, 2 sell (OrderSide)
  quantity                 bigint not null,
  price_micros             bigint not null,
  gross_amount_minor       bigint not null,
  fee_minor                bigint not null,
  cash_delta_minor         bigint not null,
  realized_pnl_delta_minor bigint not null,
  filled_at                timestamptz not null,
  event_id                 uuid not null,
  applied_at               timestamptz not null default now()
);

create index fills_account_time on fills (account_id, filled_at, seq);

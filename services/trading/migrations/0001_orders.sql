-- Accounts as trading knows them: one row per account that has placed an order. The row is what
-- PlaceOrder, CancelOrder and the limit-order consumer lock (select … for update) so that one
-- account's orders are decided one at a time. Its balances are trading's own ledger, kept in the
-- same transaction as every order and fill: cash_minor = initial cash + Σ fill cash effects,
-- held_minor = Σ what open buy orders hold.
create table accounts (
  account_id         text primary key,
  currency           char(3) not null,
  initial_cash_minor bigint not null,
  cash_minor         bigint not null,
  held_minor         bigint not null default 0 check (held_minor >= 0),
  created_at         timestamptz not null default now()
);

-- Per account and symbol: shares filled (buys − sells) and shares offered by open sell orders.
create table holdings (
  account_id       text not null references accounts (account_id),
  symbol           text not null,
  filled_quantity  bigint not null default 0,
  offered_quantity bigint not null default 0 check (offered_quantity >= 0),
  primary key (account_id, symbol)
);

-- Orders. Ids are UUIDv7: their order is the order of placement, which ListOrders pages by.
-- side, type and status hold the proto enum numbers (OrderSide, OrderType, OrderStatus).
create table orders (
  order_id           uuid primary key,
  account_id         text not null references accounts (account_id),
  symbol             text not null,
  side               smallint not null check (side in (1, 2)),
  type               smallint not null check (type in (1, 2)),
  quantity           bigint not null check (quantity > 0),
  limit_price_micros bigint not null check (limit_price_micros >= 0),
  currency           char(3) not null,
  status             smallint not null check (status in (1, 2, 3)),
  filled_quantity    bigint not null default 0,
  -- What this open buy holds of the account's cash; released when it fills or is cancelled.
  held_minor         bigint not null default 0,
  -- Bars dated after this day can fill a resting limit order ('' when market had no quote).
  rests_after        text not null default '',
  idempotency_key    text not null,
  placed_at          timestamptz not null,
  updated_at         timestamptz not null,
  unique (account_id, idempotency_key)
);

create index orders_account on orders (account_id, order_id desc);
create index orders_account_status on orders (account_id, status, order_id desc);
create index orders_open_by_symbol on orders (symbol, order_id) where status = 1;

-- Executions: the ledger cash and positions are computed from.
create table fills (
  fill_id            uuid primary key,
  order_id           uuid not null references orders (order_id),
  account_id         text not null,
  symbol             text not null,
  side               smallint not null,
  quantity           bigint not null check (quantity > 0),
  price_micros       bigint not null check (price_micros > 0),
  gross_amount_minor bigint not null,
  fee_minor          bigint not null,
  filled_at          timestamptz not null
);

create index fills_order on fills (order_id);
create index fills_account on fills (account_id);

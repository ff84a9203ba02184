-- Rebalance plans: one row per plan, its targets and its trades as child rows.
-- Money is integer: cash in minor units, prices in micros.
create table plans (
  plan_id                     text primary key,
  account_id                  text not null,
  -- meridian.planning.v1.PlanStatus: 1 proposed, 2 executed.
  status                      smallint not null,
  -- meridian.market.v1.Regime and meridian.portfolio.v1.RiskProfile the plan was made for.
  regime                      smallint not null,
  risk_profile                smallint not null,
  currency                    char(3) not null,
  holdings                    integer not null,
  cash_floor_bps              integer not null,
  cash_minor                  bigint not null,
  cash_floor_minor            bigint not null,
  total_value_minor           bigint not null,
  estimated_cash_after_minor  bigint not null,
  created_at                  timestamptz not null default now(),
  executed_at                 timestamptz
);

create index plans_account_created on plans (account_id, created_at desc);

create table plan_targets (
  plan_id         text not null references plans (plan_id) on delete cascade,
  position        integer not null,
  symbol          text not null,
  score           double precision not null,
  target_weight   double precision not null,
  current_weight  double precision not null,
  primary key (plan_id, position)
);

create table plan_trades (
  plan_id                 text not null references plans (plan_id) on delete cascade,
  -- The trade's place in the plan (sells first); part of its idempotency key.
  trade_index             integer not null,
  symbol                  text not null,
  -- meridian.trading.v1.OrderSide: 1 buy, 2 sell.
  side                    smallint not null,
  quantity                bigint not null,
  reference_price_micros  bigint not null,
  estimated_amount_minor  bigint not null,
  -- The trading service's order, once it accepted the trade.
  order_id                text,
  primary key (plan_id, trade_index)
);

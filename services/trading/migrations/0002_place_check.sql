-- A placement's checks, run inside the placement's one statement (store.ts): the account's lock,
-- then what it decides under that lock. One round trip per order instead of four (BEGIN, the
-- locked reads, the writes, COMMIT).
--
-- Each statement of a plpgsql function reads with a snapshot of its own (read committed), taken
-- after the lock is granted: it sees every placement of the account committed before, so a
-- retried idempotency key is found, and cash or shares already spent or offered are not spent
-- twice. The placement's writes read the outcome and happen only when it is 'placed'.
--
-- The outcome, and its detail:
--   placed                 ''
--   existing               the order id the key was used for
--   insufficient_funds     the buying power (cash less what open buys hold), minor units
--   insufficient_position  the shares filled less those offered by open sells (0 at least)
-- An account with no row is a bug (trading registers it before its first order): an error.
create function place_check(
  p_account_id text,
  p_idempotency_key text,
  p_symbol text,
  p_is_buy boolean,
  p_required_minor bigint,
  p_quantity bigint
) returns table (outcome text, detail text) language plpgsql as $$
declare
  balances record;
  earlier uuid;
  available bigint;
begin
  select cash_minor, held_minor into balances from accounts where account_id = p_account_id for update;
  if not found then
    raise exception 'account % was not registered before placing', p_account_id;
  end if;
  select order_id into earlier from orders where account_id = p_account_id and idempotency_key = p_idempotency_key;
  if found then
    return query select 'existing', earlier::text;
    return;
  end if;
  if p_is_buy then
    available := balances.cash_minor - balances.held_minor;
    if p_required_minor > available then
      return query select 'insufficient_funds', available::text;
      return;
    end if;
  else
    select coalesce(sum(filled_quantity - offered_quantity), 0) into available
      from holdings where account_id = p_account_id and symbol = p_symbol;
    if p_quantity > available then
      return query select 'insufficient_position', greatest(available, 0)::text;
      return;
    end if;
  end if;
  return query select 'placed', '';
end
$$;

-- A placement's checks, run inside the placement's one statement (store.ts): the account's lock,
-- then what it decides under that lock. One round trip per order instead of four (BEGIN, the
-- locked reads, the writes, COMMIT).
--
-- Each statement of a plpgsql function reads with a snapshot of its own (read committed), taken
-- after the lock is granted: it sees every placement of the account committed before, so a
-- retried idempotency key is found, and cash or shares already spent or offered are not spent
-- twice. (The placement's other parts only write; they run after this check, because they read
-- its row.) A refusal raises an error, which undoes the whole statement: none of its writes
-- happen. The codes, read by store.ts:
--   MT001 the account has no row (trading registers it before its first order)
--   MT002 the key was used: DETAIL is the order id
--   MT003 a buy beyond buying power (cash less what open buys hold): DETAIL is the buying power
--   MT004 a sell beyond the shares filled less those offered by open sells: DETAIL is that number
create function place_check(
  p_account_id text,
  p_idempotency_key text,
  p_symbol text,
  p_is_buy boolean,
  p_required_minor bigint,
  p_quantity bigint
) returns boolean language plpgsql as $$
declare
  balances record;
  earlier uuid;
  available bigint;
begin
  select cash_minor, held_minor into balances from accounts where account_id = p_account_id for update;
  if not found then
    raise exception using errcode = 'MT001', message = 'account ' || p_account_id || ' was not registered before placing';
  end if;
  select order_id into earlier from orders where account_id = p_account_id and idempotency_key = p_idempotency_key;
  if found then
    raise exception using errcode = 'MT002', message = 'idempotency key used', detail = earlier::text;
  end if;
  if p_is_buy then
    available := balances.cash_minor - balances.held_minor;
    if p_required_minor > available then
      raise exception using errcode = 'MT003', message = 'insufficient funds', detail = available::text;
    end if;
  else
    select coalesce(sum(filled_quantity - offered_quantity), 0) into available
      from holdings where account_id = p_account_id and symbol = p_symbol;
    if p_quantity > available then
      raise exception using errcode = 'MT004', message = 'insufficient position', detail = greatest(available, 0)::text;
    end if;
  end if;
  return true;
end
$$;

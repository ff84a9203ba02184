-- place_check answers exactly one row per call. Declared so: the planner otherwise takes a
-- set-returning function for 1,000 rows, estimates a placement statement's decisions at 100,000,
-- and updates the ledger by hashing the whole accounts table (a Seq Scan of every account, in
-- every placement statement) rather than probing the accounts the statement places for.
alter function place_check(text, text, text, boolean, bigint, bigint) rows 1;

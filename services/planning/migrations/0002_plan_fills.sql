-- What the portfolio must have applied before the account's next plan is built on it:
-- the account's fills applied when the plan was proposed, and the fills its orders made
-- (recorded when it was executed). A next proposal waits until the portfolio is caught up.
alter table plans add column fills_applied_before bigint not null default 0;
alter table plans add column fill_count bigint;

-- API keys of the gateway's callers. Only the SHA-256 of a key is stored: a
-- leaked table does not let anyone call. The prefix is kept to tell keys apart
-- in logs and listings without the secret.
create table api_keys (
  key_hash   text primary key,
  key_prefix text not null,
  owner      text not null,
  label      text not null default '',
  created_at timestamptz not null default now(),
  revoked_at timestamptz
);

create index api_keys_owner on api_keys (owner);

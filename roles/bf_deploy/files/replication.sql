-- The primary's side of the streaming replica, run by roles/bf_deploy/tasks/replication.yml in
-- the postgres task with psql variables ruser, slot, login_ok (the role logged in with the
-- secret's password) and replica (a replica is configured). Prints one CHANGED line per change.
\set ON_ERROR_STOP 1
\if :replica
  -- From the secret file, inside the container: never on a command line or in the task's output.
  \set rpw `cat /run/secrets/postgres_replication_password`
  SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'ruser') AS role_missing \gset
  \if :role_missing
    CREATE ROLE :"ruser" LOGIN REPLICATION PASSWORD :'rpw';
    \echo CHANGED created the replication role :ruser
  \else
    SELECT NOT (rolcanlogin AND rolreplication) AS role_wrong FROM pg_roles WHERE rolname = :'ruser' \gset
    \if :role_wrong
      ALTER ROLE :"ruser" LOGIN REPLICATION;
      \echo CHANGED gave :ruser LOGIN and REPLICATION
    \endif
    \if :login_ok
    \else
      ALTER ROLE :"ruser" PASSWORD :'rpw';
      \echo CHANGED set the password of :ruser from its secret
    \endif
  \endif
  \unset rpw
  SELECT NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = :'slot') AS slot_missing \gset
  \if :slot_missing
    SELECT pg_create_physical_replication_slot(:'slot') IS NOT NULL AS created \gset
    \echo CHANGED created the replication slot :slot
  \endif
\else
  -- No replica any more: a slot nobody streams from would keep WAL (up to
  -- max_slot_wal_keep_size) for ever.
  SELECT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = :'slot' AND NOT active) AS slot_stale \gset
  \if :slot_stale
    SELECT pg_drop_replication_slot(:'slot') IS NULL AS dropped \gset
    \echo CHANGED dropped the unused replication slot :slot
  \endif
\endif

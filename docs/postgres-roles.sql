-- keyseal's roles on an organisation's PostgreSQL store (least privilege).
-- Run once as the store's owner, after `keyseal store migrate` has made the `keyseal` schema:
--     psql "postgres://OWNER@HOST/DB" -v ON_ERROR_STOP=1 -f docs/postgres-roles.sql
-- then give each login role one of the three:
--     CREATE ROLE ci_runner LOGIN PASSWORD '...' IN ROLE keyseal_scanner;   -- CI runners
--     CREATE ROLE dev_hooks LOGIN PASSWORD '...' IN ROLE keyseal_reader;    -- developers' hooks
--     CREATE ROLE security_lead LOGIN PASSWORD '...' IN ROLE keyseal_lead;  -- people who triage
-- Safe to run again.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'keyseal_reader') THEN CREATE ROLE keyseal_reader NOLOGIN; END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'keyseal_scanner') THEN CREATE ROLE keyseal_scanner NOLOGIN; END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'keyseal_lead') THEN CREATE ROLE keyseal_lead NOLOGIN; END IF;
END
$$;

GRANT USAGE ON SCHEMA keyseal TO keyseal_reader, keyseal_scanner, keyseal_lead;
REVOKE CREATE ON SCHEMA keyseal FROM PUBLIC, keyseal_reader, keyseal_scanner, keyseal_lead;
-- On PostgreSQL 14 and older any role may create functions in `public`. keyseal never searches it,
-- but other clients of this database might: keep it closed.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- Readers (developers' pre-commit and pre-push hooks, which only need triage): the secrets' statuses.
GRANT SELECT ON keyseal.meta, keyseal.secrets TO keyseal_reader;

-- Scanners record scans (what was read, where each secret stands, which refs reach it, images and
-- layers) and read triage. Of a secret they may write only what a scan learns: its rule, provider,
-- description, redacted preview, when it was first seen and its confidence; never its status or
-- note (a new secret is `open`).
GRANT keyseal_reader TO keyseal_scanner;
GRANT SELECT ON ALL TABLES IN SCHEMA keyseal TO keyseal_scanner;
GRANT INSERT ON keyseal.scans, keyseal.scanned_blobs, keyseal.blob_matches, keyseal.scanned_commits, keyseal.occurrences,
    keyseal.repository_secrets, keyseal.scanned_layers, keyseal.layer_matches, keyseal.image_occurrences,
    keyseal.rebuild_requests TO keyseal_scanner;
-- (Revoked first: an earlier version of this file granted INSERT on every column of secrets.)
REVOKE INSERT ON keyseal.secrets FROM keyseal_scanner;
GRANT INSERT (fingerprint, rule, provider, description, preview, first_seen, confidence) ON keyseal.secrets TO keyseal_scanner;
GRANT UPDATE, DELETE ON keyseal.scans, keyseal.scanned_commits, keyseal.occurrences, keyseal.repository_secrets,
    keyseal.scanned_layers, keyseal.image_occurrences, keyseal.rebuild_requests TO keyseal_scanner;
GRANT UPDATE (first_seen, confidence, preview) ON keyseal.secrets TO keyseal_scanner;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA keyseal TO keyseal_scanner;

-- Leads do what scanners do, and triage: a secret's status, note and the time of the decision (a
-- server's pre-receive hook that records emergency bypasses in notes needs this role too).
GRANT keyseal_scanner TO keyseal_lead;
GRANT INSERT (status, note, updated_at) ON keyseal.secrets TO keyseal_lead;
GRANT UPDATE (status, note, updated_at) ON keyseal.secrets TO keyseal_lead;

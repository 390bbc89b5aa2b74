-- keyseal's roles on an organisation's PostgreSQL store (least privilege).
-- Run once as the store's owner, after `keyseal store migrate` has made the `keyseal` schema:
--     psql "postgres://OWNER@HOST/DB" -v ON_ERROR_STOP=1 -f docs/postgres-roles.sql
-- then give each login role one of the two:
--     CREATE ROLE ci_runner LOGIN PASSWORD '...' IN ROLE keyseal_scanner;   -- CI runners, hooks
--     CREATE ROLE security_lead LOGIN PASSWORD '...' IN ROLE keyseal_lead;  -- people who triage
-- Safe to run again.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'keyseal_scanner') THEN CREATE ROLE keyseal_scanner NOLOGIN; END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'keyseal_lead') THEN CREATE ROLE keyseal_lead NOLOGIN; END IF;
END
$$;

GRANT USAGE ON SCHEMA keyseal TO keyseal_scanner, keyseal_lead;

-- Scanners record scans (what was read, where each secret stands, which refs reach it, images and
-- layers) and read triage. Of a secret they may set only what a scan learns: when it was first
-- seen, its confidence and its redacted preview. Never its status or note.
GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA keyseal TO keyseal_scanner;
GRANT UPDATE, DELETE ON keyseal.scans, keyseal.scanned_commits, keyseal.occurrences, keyseal.repository_secrets,
    keyseal.scanned_layers, keyseal.image_occurrences, keyseal.rebuild_requests TO keyseal_scanner;
GRANT UPDATE (first_seen, confidence, preview) ON keyseal.secrets TO keyseal_scanner;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA keyseal TO keyseal_scanner;
REVOKE CREATE ON SCHEMA keyseal FROM keyseal_scanner, keyseal_lead;

-- Leads do what scanners do, and triage: a secret's status, note and the time of the decision.
GRANT keyseal_scanner TO keyseal_lead;
GRANT UPDATE (status, note, updated_at) ON keyseal.secrets TO keyseal_lead;

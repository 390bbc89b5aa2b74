#!/bin/sh
# keyseal in any CI system: run from the root of a full clone (not shallow).
#
#   KEYSEAL_BASE   optional: a revision (the target branch, the last released tag); only commits
#                  not reachable from it are scanned. Unset: the full history of every ref.
#   KEYSEAL_STORE  optional: the store file to keep between runs (cache it), so a run scans only
#                  what is new. Unset: .git/keyseal/store.sqlite.
#   KEYSEAL_FORMAT optional: sarif (default), json, gitlab, junit, csv or text.
#   KEYSEAL_OUTPUT optional: the report file (default keyseal-report.FORMAT).
#
# Exit status: 0 clean, 1 open secrets (or blobs it could not scan fully), 2 an error.
set -eu

format=${KEYSEAL_FORMAT:-sarif}
output=${KEYSEAL_OUTPUT:-keyseal-report.$format}

set -- scan --format "$format" --output "$output" --fail-on-unscanned
if [ -n "${KEYSEAL_BASE:-}" ]; then
  set -- "$@" --since-commit "$KEYSEAL_BASE"
fi
if [ -n "${KEYSEAL_STORE:-}" ]; then
  set -- "$@" --store "$KEYSEAL_STORE"
fi

status=0
keyseal "$@" || status=$?
case $status in
  0) echo "keyseal: no open secrets; report in $output" ;;
  1) echo "keyseal: open secrets (or unscanned blobs); report in $output. Rotate each one: keyseal checklist" >&2 ;;
  *) echo "keyseal: error (exit $status)" >&2 ;;
esac
exit "$status"

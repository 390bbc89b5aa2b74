#!/usr/bin/env bash
# Regenerates docs/keyseal.1 from the commands' own help, with swift-argument-parser's
# generate-manual plugin (it builds the package, runs `keyseal --experimental-dump-help`, and
# writes mdoc). CLIConventionTests.testManPageIsUpToDate fails when the page falls behind.
# Usage: docs/generate-man.sh [YYYY-MM-DD]   (the page's date; default: today)
set -euo pipefail
cd "$(dirname "$0")/.."
date="${1:-$(date +%F)}"
swift package generate-manual --configuration debug --date "$date" >&2
cp .build/plugins/GenerateManual/outputs/keyseal/keyseal.1 docs/keyseal.1
echo "wrote docs/keyseal.1 (view it with: man -l docs/keyseal.1)" >&2

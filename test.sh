#!/usr/bin/env bash
# Runs every test of the workbench, xUnit (C#) and Expecto (F#) alike, from a clean clone with only the
# .NET 10 SDK. Exits non-zero on any build error or test failure. Usage: bash test.sh
set -uo pipefail
cd "$(dirname "$0")"
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

# The report test renders a report in headless Chromium (Debian's package); install it when missing.
if ! command -v chromium >/dev/null 2>&1; then
  echo "installing Debian's chromium for the headless report test"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium; } > "$log/apt.txt" 2>&1 \
    || { echo "could not install chromium (the browser test will fail):"; tail -5 "$log/apt.txt"; }
fi

dotnet build Workbench.sln -c Release -nologo -v quiet || { echo "build failed"; exit 1; }

dotnet test tests/FocalLoss.Tests -c Release --no-build -nologo 2>&1 | tee "$log/xunit.txt"
xunit_rc=${PIPESTATUS[0]}

dotnet run --project tests/Analysis.Tests -c Release --no-build -- --colours 0 --no-spinner --summary 2>&1 | tee "$log/expecto.txt"
expecto_rc=${PIPESTATUS[0]}

# The mutation check proves the properties can fail (--set ci: 12 core mutants (one in the fused kernel) that together are caught by
# every listed core property, and one mutant of each member of the asymmetric family; all core mutants:
# --set core -> tests/mutation/RESULTS.md, the whole family: --set family -> RESULTS-family.md).
# SKIP_MUTATION=1 skips it locally.
mutation_rc=0
if [ "${SKIP_MUTATION:-0}" != "1" ]; then
  dotnet fsi --quiet tests/mutation/run.fsx --set ci --results "$log/RESULTS.md" > "$log/mutation.txt" 2>&1
  mutation_rc=$?
  grep -E '^(baseline|mutant|Mutants survived|Listed properties)' "$log/mutation.txt"
  [ "$mutation_rc" -eq 0 ] || { echo "mutation check FAILED:"; tail -40 "$log/mutation.txt"; }
fi

# One closing line for both runners: "N passed, N failed".
read -r xp xf < <(grep -oE 'Failed: +[0-9]+, Passed: +[0-9]+' "$log/xunit.txt" | tail -1 | awk -F'[:,]' '{gsub(/ /,""); print $4, $2}')
read -r ep ef ee < <(grep -oE '[0-9]+ passed, [0-9]+ ignored, [0-9]+ failed, [0-9]+ errored' "$log/expecto.txt" | tail -1 | awk '{print $1, $5, $7}')
passed=$(( ${xp:-0} + ${ep:-0} ))
failed=$(( ${xf:-0} + ${ef:-0} + ${ee:-0} ))
echo "xunit: ${xp:-?} passed, ${xf:-?} failed; expecto: ${ep:-?} passed, $(( ${ef:-0} + ${ee:-0} )) failed"
echo "tests: $passed passed, $failed failed"
if [ "$xunit_rc" -ne 0 ] || [ "$expecto_rc" -ne 0 ] || [ "$mutation_rc" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$passed" -eq 0 ]; then
  exit 1
fi

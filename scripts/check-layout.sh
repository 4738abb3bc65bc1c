#!/usr/bin/env bash
# Layout limits of docs/design.md: no source file under src/ over 700 lines, and no function over
# 120 lines except the ones listed in ALLOWED (the pickle interpreter's opcode switch). Prints
# every function over the limit with its length; exits 1 when a limit is broken.
# Usage: bash scripts/check-layout.sh [--list N]   (--list N: every function of N lines or more)
set -euo pipefail
cd "$(dirname "$0")/.."
max_file=700
max_function=120
list_from=0
[ "${1:-}" = "--list" ] && list_from="${2:?--list needs a line count}"
ALLOWED="src/io/pickle_machine.cpp:run"
status=0
mapfile -t files < <(find src -name '*.cpp' -o -name '*.h' -o -name '*.cu' | sort)
for f in "${files[@]}"; do
  lines=$(wc -l <"$f")
  if [ "$lines" -gt "$max_file" ]; then
    echo "$f: $lines lines (limit $max_file)"
    status=1
  fi
done
# Functions: a brace block opened at namespace level (namespace braces do not count) by a line
# that holds or follows a ')'. Strings and comments are stripped first, so braces in them do not
# count. The name is the identifier before the first '(' of the signature.
report=$(awk -v limit="$max_function" -v list_from="$list_from" '
function strip(s) {
  gsub(/\\./, "", s); gsub(/"[^"]*"/, "\"\"", s); gsub(/'"'"'[^'"'"']*'"'"'/, "0", s)
  sub(/\/\/.*/, "", s); return s
}
FNR == 1 { depth = 0; ns = 0; in_comment = 0; sig = ""; start = 0 }
{
  line = $0
  if (in_comment) { if (line ~ /\*\//) { sub(/.*\*\//, "", line); in_comment = 0 } else next }
  gsub(/\/\*[^*]*\*+([^\/*][^*]*\*+)*\//, "", line)
  if (line ~ /\/\*/) { sub(/\/\*.*/, "", line); in_comment = 1 }
  line = strip(line)
  if (line ~ /^[ \t]*#/) next
  if (depth == ns && line ~ /^[ \t]*(inline[ \t]+)?namespace([ \t].*)?\{/) { ns++; depth++; next }
  if (depth == ns && line !~ /^[ \t]*$/ && start == 0) {
    sig = sig " " line
    if (line ~ /;[ \t]*$/ && line !~ /\{/) sig = ""
  }
  n = split(line, chars, "")
  for (i = 1; i <= n; i++) {
    c = chars[i]
    if (c == "{") {
      if (depth == ns && start == 0 && sig ~ /\)/) {
        start = FNR; name = sig; sub(/\(.*/, "", name); sub(/.*[ \t*&:~]/, "", name)
      }
      depth++
    } else if (c == "}") {
      depth--
      if (depth < ns) { ns = depth }
      if (depth == ns) {
        if (start > 0) {
          len = FNR - start + 1
          if (len > limit || (list_from > 0 && len >= list_from)) print FILENAME ":" name ":" len ":" start
        }
        start = 0; sig = ""
      }
    }
  }
  if (depth == ns && line ~ /;[ \t]*$/) sig = ""
}' "${files[@]}")
if [ -n "$report" ]; then
  while IFS=: read -r file name len start; do
    allowed=0
    [[ " $ALLOWED " == *" $file:$name "* ]] && allowed=1
    [ "$len" -gt "$max_function" ] && [ "$allowed" -eq 0 ] && status=1
    note=""
    [ "$allowed" -eq 1 ] && note=" (allowed: the interpreter's opcode switch)"
    echo "$file:$start: $name, $len lines$note"
  done <<<"$report"
fi
exit "$status"

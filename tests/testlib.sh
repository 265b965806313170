# testlib.sh: the set-up and checks the shell tests share. A test runs from tests/ (ctest's
# working folder) and sources this after reading its arguments: G is the golden data, M its
# models, T a new scratch folder removed on exit (a script that must do more on exit, such as
# chmod unreadable files or stop a server, sets its own EXIT trap after sourcing).
# Each check counts into pass / fail; a script ends with `finish`.
G=golden
M=$G/models
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
# expect_rc WANT NAME CMD...: run (at most $VLP_TEST_TIMEOUT s, default 600), keep stdout in
# $T/out and stderr in $T/err; a sanitizer report on stderr fails too.
expect_rc() {
  local want=$1 name=$2
  shift 2
  timeout "${VLP_TEST_TIMEOUT:-600}" "$@" >"$T/out" 2>"$T/err"
  local rc=$?
  if [ "$rc" = "$want" ]; then ok; else bad "$name: exit $rc, expected $want; stderr: $(head -c 400 "$T/err")"; fi
  if grep -qE "Sanitizer|runtime error" "$T/err"; then bad "$name: sanitizer report: $(head -c 600 "$T/err")"; fi
}
# has FILE TEXT NAME / hasnt FILE TEXT NAME: TEXT (fixed string) in $T/FILE or not.
has() { if grep -qF -- "$2" "$T/$1"; then ok; else bad "$3: '$2' not in $1: $(head -c 400 "$T/$1")"; fi; }
hasnt() { if grep -qF -- "$2" "$T/$1"; then bad "$3: '$2' in $1"; else ok; fi; }
# lines FILE N NAME: $T/FILE has N lines.
lines() { local n; n=$(wc -l <"$T/$1"); if [ "$n" = "$2" ]; then ok; else bad "$3: $n lines in $1, expected $2"; fi; }
# finish [LABEL]: print "[LABEL: ]N passed, M failed"; the status is 0 when nothing failed.
finish() {
  echo "${1:+$1: }$pass passed, $fail failed"
  [ "$fail" = 0 ]
}

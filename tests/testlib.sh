# testlib.sh: the checks the shell tests share (source it; set T to a scratch folder first).
# Each check counts into pass / fail; a script ends with: echo "$pass passed, $fail failed".
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
# expect_rc WANT NAME CMD...: run (at most 120 s), keep stdout in $T/out and stderr in $T/err;
# a sanitizer report on stderr fails too.
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

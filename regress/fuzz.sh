#!/bin/sh
# The fuzz targets' regression run, by regress/run-tests: each target of
# regress/fuzz/, built as regress/fuzz/replay_NAME with the build's own
# compiler and sanitizers (no libFuzzer needed), runs over its seed
# corpus and over every finding kept in regress/fuzz/findings/NAME/: an
# input that once crashed a target, or broke one of its properties,
# keeps being tried.  One TAP line per target.
. "$SRCDIR/regress/lib.sh"

for r in "$BUILDDIR"/regress/fuzz/replay_*; do
	[ -x "$r" ] || continue
	t=${r##*/replay_}
	log=$(mktemp "${TMPDIR:-/tmp}/egressd-replay.XXXXXX")
	"$r" "$SRCDIR/regress/fuzz/corpus/$t" "$SRCDIR/regress/fuzz/findings/$t" \
	    >"$log" 2>&1
	rc=$?
	nin=$(grep -c '^ok ' "$log")
	nf=$(ls "$SRCDIR/regress/fuzz/findings/$t" 2>/dev/null | wc -l | tr -d ' ')
	if [ "$rc" -eq 0 ] && [ "$nin" -gt 0 ]; then
		pass "fuzz_$t: $nin inputs replayed ($nf kept findings)"
	else
		fail "fuzz_$t: inputs replayed (exit $rc after $nin)"
		tail -n 15 "$log" | sed 's/^/# /'
	fi
	rm -f "$log"
done
[ "$T_N" -gt 0 ] || fail "replay programs built"
done_testing

#!/bin/sh
# Manual page tests, run by regress/run-tests: src/egressd.8,
# src/egressctl.8 and src/egressd.conf.5 pass "mandoc -T lint -W
# warning" without a word; every keyword of the keyword table in
# src/parse.y is documented in egressd.conf(5) as a keyword (an argument
# of Ic or Cm), so the page cannot fall behind the grammar; and the
# configuration in the EXAMPLES section of egressd.conf(5) is accepted by
# egressd -n.
. "$SRCDIR/regress/lib.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/egressd-man.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT PIPE TERM

conf5=$SRCDIR/src/egressd.conf.5
man8=$SRCDIR/src/egressd.8
parse=$SRCDIR/src/parse.y

for page in "$man8" "$conf5" "$SRCDIR/src/egressctl.8"; do
	name=${page##*/}
	if [ ! -f "$page" ]; then
		fail "$name: exists"
		continue
	fi
	if ! command -v mandoc >/dev/null 2>&1; then
		skip "$name: mandoc -T lint (mandoc not installed)"
		continue
	fi
	mandoc -T lint -W warning "$page" >"$tmp/lint" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ] && [ ! -s "$tmp/lint" ]; then
		pass "$name: mandoc -T lint -W warning is silent"
	else
		fail "$name: mandoc -T lint -W warning is silent (exit $rc)"
		sed 's/^/# /' "$tmp/lint"
	fi
done

# The keyword table: the lines '{ "word", TOKEN },' of keywords[].
awk '/keywords\[\] = \{/ { on = 1; next }
    on && /^};/ { exit }
    on && match($0, /\{ *"[^"]*"/) {
	s = substr($0, RSTART, RLENGTH); sub(/^\{ *"/, "", s); sub(/"$/, "", s)
	print s
    }' "$parse" >"$tmp/keywords"
n=$(wc -l <"$tmp/keywords" | tr -d ' ')
if [ "$n" -gt 0 ]; then
	pass "parse.y: keyword table read ($n keywords)"
else
	fail "parse.y: keyword table read"
fi

# The words the page sets as keywords: on a macro line, the arguments
# after Ic or Cm up to the next macro name.
awk '/^\./ {
	sub(/^\./, "")
	kw = 0
	for (i = 1; i <= NF; i++) {
		w = $i
		if (w == "Ic" || w == "Cm") { kw = 1; continue }
		if (w ~ /^[A-Z][a-z][a-z]?$/) { kw = 0; continue }
		if (kw) { sub(/[,;:.]+$/, "", w); print w }
	}
    }' "$conf5" | sort -u >"$tmp/documented"

missing=
while read -r kw; do
	grep -qxF "$kw" "$tmp/documented" || missing="$missing $kw"
done <"$tmp/keywords"
if [ -z "$missing" ]; then
	pass "egressd.conf.5: documents every keyword of parse.y"
else
	fail "egressd.conf.5: documents every keyword of parse.y"
	diag "not documented as Ic or Cm:$missing"
fi

# The EXAMPLES section's literal blocks, but for shell commands, make one
# configuration that egressd must accept.
awk '/^\.Sh / { ex = ($0 == ".Sh EXAMPLES"); next }
    ex && /^\.Bd -literal/ { lit = 1; first = 1; next }
    ex && /^\.Ed/ { lit = 0; next }
    ex && lit {
	if (first && $0 ~ /^#/) { lit = 0; next }
	first = 0
	gsub(/\\\(dq/, "\""); gsub(/\\&/, ""); gsub(/\\e/, "\\")
	print
    }' "$conf5" >"$tmp/example.conf"
if [ ! -s "$tmp/example.conf" ]; then
	fail "egressd.conf.5: EXAMPLES has a configuration"
elif "$EGRESSD" -n -f "$tmp/example.conf" >"$tmp/out" 2>&1; then
	pass "egressd.conf.5: EXAMPLES configuration is valid"
else
	fail "egressd.conf.5: EXAMPLES configuration is valid"
	sed 's/^/# /' "$tmp/out"
fi

done_testing

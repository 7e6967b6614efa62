#!/bin/sh
# Manual page tests, run by regress/run-tests: src/egressd.8,
# src/egressctl.8 and src/egressd.conf.5 pass "mandoc -T lint -W
# warning" without a word; every keyword of the keyword table in
# src/parse.y is documented in egressd.conf(5) as a keyword (an argument
# of Ic or Cm), so the page cannot fall behind the grammar; so is every
# audit sink, in egressd(8) too, every audit reason of the code (and no
# other), every MSGID and every egressctl command; no page or README
# promises what a later release will do; and the configuration in the
# EXAMPLES section of egressd.conf(5) is accepted by egressd -n.
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

# The audit sinks the grammar takes ("SINK UNIX ...", "SINK JOURNALD"):
# each is a "sink" of egressd.conf(5) and is named in egressd(8).
sed -n 's/^.*[:|][[:space:]]*SINK \([A-Z]*\).*$/\1/p' "$parse" | tr A-Z a-z |
    sort -u >"$tmp/sinks"
n=$(wc -l <"$tmp/sinks" | tr -d ' ')
missing=
while read -r sk; do
	grep -q "^\.It Ic sink Cm $sk\>" "$conf5" || missing="$missing conf5:$sk"
	grep -q "^\.Cm $sk\>" "$man8" || missing="$missing egressd.8:$sk"
done <"$tmp/sinks"
if [ "$n" -gt 0 ] && [ -z "$missing" ]; then
	pass "every audit sink of the grammar ($n: $(tr '\n' ' ' <"$tmp/sinks"| sed 's/ $//')) is documented in egressd.conf(5) and egressd(8)"
else
	fail "every audit sink of the grammar is documented ($n sinks)"
	diag "missing:$missing"
fi

# The audit reasons of src/audit.c: each in the Reasons list of
# egressd.conf(5), and the list holds no reason the code does not have.
sed -n 's/^[[:space:]]*\[AR_[A-Z_]*\] = "\([^"]*\)",.*/\1/p' \
    "$SRCDIR/src/audit.c" | sort -u >"$tmp/reasons"
awk '/^\.Ss Reasons/ { on = 1; next } on && /^\.S[sh] / { exit }
    on && /^\.It Li / { print $3 }' "$conf5" | sort -u >"$tmp/listed"
n=$(wc -l <"$tmp/reasons" | tr -d ' ')
if [ "$n" -gt 20 ] && cmp -s "$tmp/reasons" "$tmp/listed"; then
	pass "egressd.conf.5: the Reasons list is the code's $n reasons, no more, no less"
else
	fail "egressd.conf.5: the Reasons list is the code's reasons ($n)"
	diff "$tmp/reasons" "$tmp/listed" | sed 's/^/# /'
fi

# The records' MSGIDs, in both pages.
missing=
for id in REQUEST TUNNEL DENY DROPPED; do
	grep -q "$id" "$SRCDIR/src/audit.c" || missing="$missing code:$id"
	grep -q "^\.Li $id\>" "$conf5" || missing="$missing conf5:$id"
	grep -q "^\.Li $id\>" "$man8" || missing="$missing egressd.8:$id"
done
if [ -z "$missing" ]; then
	pass "the MSGIDs REQUEST, TUNNEL, DENY and DROPPED are in the code and both pages"
else
	fail "the MSGIDs are in the code and both pages"
	diag "missing:$missing"
fi

# egressctl's commands, from its token tables: each in egressctl(8).
awk '/^static const struct token t_[a-z]*\[\] = \{/ {
	t = $5; sub(/\[\]$/, "", t); next }
    /^};/ { t = ""; next }
    t != "" && /KEYWORD/ {
	split($0, f, "\""); nx = $NF == "}," ? $(NF - 1) : $NF
	gsub(/[ },]/, "", nx); print t, f[2], nx }' "$SRCDIR/src/egressctl.c" |
    awk '{ row[NR] = $0; if ($1 == "t_main" && $3 != "NULL") up[$3] = $2 }
    END { for (i = 1; i <= NR; i++) { split(row[i], r, " ")
	if (r[1] == "t_main") { if (r[3] == "NULL") print r[2] }
	else print up[r[1]] " " r[2] } }' | sort -u >"$tmp/commands"
missing=
while read -r cmd; do
	grep -q "^\.It Cm $cmd\>" "$SRCDIR/src/egressctl.8" ||
	    grep -q "^\.Cm $cmd\>" "$SRCDIR/src/egressctl.8" ||
	    missing="$missing \"$cmd\""
done <"$tmp/commands"
n=$(wc -l <"$tmp/commands" | tr -d ' ')
if [ "$n" -gt 3 ] && [ -z "$missing" ]; then
	pass "egressctl.8: documents each of egressctl's $n commands"
else
	fail "egressctl.8: documents each of egressctl's commands ($n)"
	diag "missing:$missing"
fi

# No promise outlives its feature: the pages and the READMEs speak of
# what this release does, not of what a later one will.
# ("yet" alone is not a promise: egressctl's "no status yet" is a message.)
if grep -n -i -E 'later release|future release|not (yet|emitted)|(emitted|supported|implemented|offered|available) yet|yet to (come|be)|comes? later|will (hold|come|be added|be supported|support)|once .* lands|to be added' \
    "$man8" "$conf5" "$SRCDIR/src/egressctl.8" "$SRCDIR/README.md" \
    "$SRCDIR/privsep/README.privsep.md" >"$tmp/promises"; then
	fail "no page or README promises a later release"
	sed 's/^/# /' "$tmp/promises"
else
	pass "no page or README promises a later release"
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

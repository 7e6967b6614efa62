# Route matching as an origin would read the request: header values
# (blanks, repeated lines, lists, single-valued headers), paths in
# normal form (escapes, dot segments, slashes, the gateways' ways with
# escaped slashes, rewrites, the refused forms, RFC 3986's examples), and
# static endpoints each dialed on its own port.  Every request is sent raw
# (curl would tidy the paths), tagged with a query t=N; each row is judged
# at the logging origins (what arrived, byte for byte, or nothing) and in
# its audit record (decision, reason, route, path, path_raw).
. "$SRCDIR/regress/e2e/common.sh"
command -v dnsmasq >/dev/null || { fail "dnsmasq is installed"; done_testing; exit 1; }

P=$(free_port); PK=$(free_port); PR=$(free_port); PD=$(free_port)
OP=$(free_port); OP2=$(free_port); DP=$(free_port)
start_origin 127.0.0.1 "$OP"
for o in "B 127.0.0.1 $OP2" "C 127.0.0.2 $OP" "D 127.0.0.3 $OP"; do
	set -- $o
	python3 "$SRCDIR/regress/e2e/origin.py" "$2" "$3" "$T/origin$1.log" 1800 &
	EXTRA_PIDS="$EXTRA_PIDS $!"
	wait_for 50 test -f "$T/origin$1.log.ready"
done
start_dns "$DP" --address=/a.test/127.0.0.1
cat > "$T/egressd.conf" <<CONF
user "$EGD_USER"
chroot "$T/root"
workers 1
nameserver 127.0.0.1 port $DP
gateway "gw" {
	listen on 127.0.0.1 port $P http
}
gateway "kept" {
	listen on 127.0.0.1 port $PK http
	merge slashes off
	escaped slashes keep
}
gateway "strict" {
	listen on 127.0.0.1 port $PR http
	escaped slashes reject
}
gateway "decoding" {
	listen on 127.0.0.1 port $PD http
	escaped slashes decode
}
service "pub" {
	hosts { "a.test" }
	port $OP http
	allow private
}
service "mixed2" {
	hosts { "mixed2.test" }
	port $OP http
	resolution static
	endpoint 127.0.0.1 port $OP2
	endpoint 127.0.0.2 port $OP
	endpoint 127.0.0.3
	allow private
}
route "admin" {
	from { 10.99.0.0/16 }
	match authority "a.test" path prefix "/admin" { }
	match authority "a.test" header "x-admin" "1" { }
	match authority "a.test" header "authorization" "Bearer root" { }
	match authority "a.test" path "/exact" { }
}
route "moves" {
	match authority "a.test" path prefix "/old" {
		rewrite path prefix "/new/"
	}
}
CONF

# egressd -n: a warning for each route with path conditions on "gw", the
# one gateway that keeps escaped slashes without saying so.
"$EGRESSD" -n -f "$T/egressd.conf" >"$T/n.out" 2>"$T/n.err"
ok $([ "$(cat "$T/n.out")" = "configuration OK" ] &&
    [ "$(grep -c ': warning: ' "$T/n.err")" = 2 ] &&
    grep -q 'route "admin" matches paths on gateway "gw", which keeps escaped slashes' "$T/n.err" &&
    grep -q 'route "moves" matches paths on gateway "gw"' "$T/n.err" &&
    ! grep -q -e '"kept"' -e '"strict"' -e '"decoding"' "$T/n.err"; echo $?) \
    "egressd -n warns of path conditions on the gateway that keeps escaped slashes by default, only there"
sed 's/^/# /' "$T/n.err"

start_egressd "$T/egressd.conf" || { fail "egressd starts"; done_testing; exit 1; }

# The rows (see match.py): GATEWAY | PATH | HEADER LINES | STATUS |
# REASON (- : allowed) | ROUTE | PATH RECORDED | PATH_RAW RECORDED |
# TARGET AT THE ORIGIN (- : nothing arrives); paths sent byte for byte,
# header lines with \r\n and \t escaped.
: > "$T/rows"
# --- the issue's first table: headers ---
cat >> "$T/rows" <<'ROWS'
gw|/pub|X-Admin: 1\r\n|403|source_denied|admin|/pub|-|-
gw|/pub|X-Admin: 1 \r\n|403|source_denied|admin|/pub|-|-
gw|/pub|X-Admin:  1\t\r\n|403|source_denied|admin|/pub|-|-
gw|/pub|X-Admin: 0\r\nX-Admin: 1\r\n|403|source_denied|admin|/pub|-|-
gw|/pub|X-Admin: 1\r\nX-Admin: 0\r\n|403|source_denied|admin|/pub|-|-
gw|/pub|X-Admin: 0, 1\r\n|403|source_denied|admin|/pub|-|-
gw|/pub|X-Admin: 0,1 ,2\r\n|403|source_denied|admin|/pub|-|-
gw|/pub|X-Admin: "0,1", 1\r\n|403|source_denied|admin|/pub|-|-
gw|/pub|X-Admin: "1,0"\r\n|404|-|-|/pub|-|/pub
gw|/pub|X-Admin: 0\r\n|404|-|-|/pub|-|/pub
gw|/pub|X-Admin: 10\r\nX-Admin: 01\r\n|404|-|-|/pub|-|/pub
gw|/pub|X-Other: 1\r\n|404|-|-|/pub|-|/pub
# single-valued headers: one value, commas included; repeated: refused
gw|/pub|Authorization: Bearer root\r\n|403|source_denied|admin|/pub|-|-
gw|/pub|Authorization:  Bearer root \r\n|403|source_denied|admin|/pub|-|-
gw|/pub|Authorization: Bearer root, Bearer x\r\n|404|-|-|/pub|-|/pub
gw|/pub|Authorization: Bearer x\r\nAuthorization: Bearer root\r\n|400|bad_request|-|/pub|-|-
gw|/pub|Authorization: Bearer root\r\nAuthorization: Bearer root\r\n|400|bad_request|-|/pub|-|-
gw|/pub|X-Admin: 1\r\nAuthorization: a\r\nAuthorization: b\r\n|403|source_denied|admin|/pub|-|-
ROWS

# --- the issue's first table: paths, then slashes kept ---
cat >> "$T/rows" <<'ROWS'
gw|/admin|-|403|source_denied|admin|/admin|-|-
gw|/%61dmin|-|403|source_denied|admin|/admin|/%61dmin|-
gw|/ADMIN|-|404|-|-|/ADMIN|-|/ADMIN
gw|//admin|-|403|source_denied|admin|/admin|//admin|-
gw|/./admin|-|403|source_denied|admin|/admin|/./admin|-
gw|/x/../admin|-|403|source_denied|admin|/admin|/x/../admin|-
gw|/x/%2e%2e/admin|-|403|source_denied|admin|/admin|/x/%2e%2e/admin|-
gw|/x/.%2E/admin|-|403|source_denied|admin|/admin|/x/.%2E/admin|-
gw|/%2E/admin|-|403|source_denied|admin|/admin|/%2E/admin|-
gw|/adm%69n/x|-|403|source_denied|admin|/admin/x|/adm%69n/x|-
gw|/exact|-|403|source_denied|admin|/exact|-|-
gw|/./exact?q=1|-|403|source_denied|admin|/exact?q=1|/./exact?q=1|-
gw|/exact/|-|404|-|-|/exact/|-|/exact/
gw|/pub/./x/../y%7e?q=%7e/../|-|404|-|-|/pub/y~?q=%7e/../|/pub/./x/../y%7e?q=%7e/../|/pub/y~?q=%7e/../
kept|//admin|-|404|-|-|//admin|-|//admin
kept|/a//b|-|404|-|-|/a//b|-|/a//b
kept|/x/../admin|-|403|source_denied|admin|/admin|/x/../admin|-
# escaped slashes: keep (gw, kept), reject (strict), decode (decoding)
gw|/x%2F..%2Fadmin|-|404|-|-|/x%2F..%2Fadmin|-|/x%2F..%2Fadmin
gw|/x%2f..%2fadmin|-|404|-|-|/x%2F..%2Fadmin|/x%2f..%2fadmin|/x%2F..%2Fadmin
gw|/a%5cb|-|404|-|-|/a%5Cb|/a%5cb|/a%5Cb
strict|/x%2F..%2Fadmin|-|400|bad_request|-|/x%2F..%2Fadmin|-|-
strict|/a%5Cb|-|400|bad_request|-|/a%5Cb|-|-
strict|/pub?q=%2F|-|404|-|-|/pub?q=%2F|-|/pub?q=%2F
strict|//admin|-|403|source_denied|admin|/admin|//admin|-
decoding|/x%2F..%2Fadmin|-|403|source_denied|admin|/admin|/x%2F..%2Fadmin|-
decoding|/x%5c..%5cadmin|-|403|source_denied|admin|/admin|/x%5c..%5cadmin|-
decoding|/a%2Fb|-|404|-|-|/a/b|/a%2Fb|/a/b
decoding|/a%2F%2Fb|-|404|-|-|/a/b|/a%2F%2Fb|/a/b
# rewrite path prefix "/old" -> "/new/": normalised again, never out
gw|/old/x|-|404|-|moves|/old/x|-|/new/x
gw|/old./x|-|404|-|moves|/old./x|-|/new/x
gw|/old|-|404|-|moves|/old|-|/new/
gw|/old../x|-|400|bad_request|moves|/old../x|-|-
gw|/old%2e%2e/x|-|400|bad_request|moves|/old../x|/old%2e%2e/x|-
gw|/old../../x|-|404|-|-|/x|/old../../x|/x
kept|/old/x|-|404|-|moves|/old/x|-|/new//x
# refused forms: 400, the path as received in the record
gw|/%00|-|400|bad_request|-|/%00|-|-
gw|/a%00b|-|400|bad_request|-|/a%00b|-|-
gw|/..|-|400|bad_request|-|/..|-|-
gw|/../admin|-|400|bad_request|-|/../admin|-|-
gw|/a/../../admin|-|400|bad_request|-|/a/../../admin|-|-
gw|/%2e%2e/admin|-|400|bad_request|-|/%2e%2e/admin|-|-
gw|/%|-|400|bad_request|-|/%|-|-
gw|/%4|-|400|bad_request|-|/%4|-|-
gw|/%zz|-|400|bad_request|-|/%zz|-|-
gw|/a#b|-|400|bad_request|-|/a#b|-|-
gw|/x\..\admin|-|400|bad_request|-|/x\..\admin|-|-
decoding|/%2F..%2F..|-|400|bad_request|-|/%2F..%2F..|-|-
ROWS

# absolute-form: the path from its first '/' is normalised the same way
cat >> "$T/rows" <<ROWS
gw|http://a.test:$OP/x/../admin|-|403|source_denied|admin|/admin|/x/../admin|-
gw|http://a.test:$OP/pub/%7e/./x|-|404|-|-|/pub/~/x|/pub/%7e/./x|/pub/~/x
gw|http://a.test:$OP/%00|-|400|bad_request|-|/%00|-|-
ROWS

# --- RFC 3986 5.4's examples, as merged paths (base /b/c/d;p) ---
while read -r in want; do
	case $in in ''|'#'*) continue ;; esac
	if [ "$want" = REFUSED ]; then
		echo "gw|$in|-|400|bad_request|-|$in|-|-"
	elif [ "$want" = "$in" ]; then
		echo "gw|$in|-|404|-|-|$in|-|$want"
	else
		echo "gw|$in|-|404|-|-|$want|$in|$want"
	fi >> "$T/rows"
done <<'ROWS'
/b/c/g			/b/c/g
/b/c/./g		/b/c/g
/b/c/g/			/b/c/g/
/g			/g
/b/c/d;p?y		/b/c/d;p?y
/b/c/g?y		/b/c/g?y
/b/c/;x			/b/c/;x
/b/c/g;x		/b/c/g;x
/b/c/g;x?y		/b/c/g;x?y
/b/c/.			/b/c/
/b/c/./			/b/c/
/b/c/..			/b/
/b/c/../		/b/
/b/c/../g		/b/g
/b/c/../..		/
/b/c/../../		/
/b/c/../../g		/g
/b/c/../../../g		REFUSED
/b/c/../../../../g	REFUSED
/./g			/g
/../g			REFUSED
/b/c/g.			/b/c/g.
/b/c/.g			/b/c/.g
/b/c/g..		/b/c/g..
/b/c/..g		/b/c/..g
/b/c/./../g		/b/g
/b/c/./g/.		/b/c/g/
/b/c/g/./h		/b/c/g/h
/b/c/g/../h		/b/c/h
/b/c/g;x=1/./y		/b/c/g;x=1/y
/b/c/g;x=1/../y		/b/c/y
/b/c/g?y/./x		/b/c/g?y/./x
/b/c/g?y/../x		/b/c/g?y/../x
/b/c/g#s/./x		REFUSED
/a/b/c/./../../g	/a/g
/mid/content=5/../6	/mid/6
ROWS

# Sent in order, then judged: the status, what arrived at the origins,
# and each request's audit record.
python3 "$SRCDIR/regress/e2e/match.py" send "$T/rows" "$T/results" \
    "a.test:$OP" gw="$P" kept="$PK" strict="$PR" decoding="$PD"
nrows=$(grep -c '^[a-z]' "$T/rows")
wait_for 100 sh -c "grep -q '[?&]t=$nrows[\" ]' '$T/egressd.log'"
audit_get dump > "$T/audit.json"
python3 "$SRCDIR/regress/e2e/match.py" judge "$T/rows" "$T/results" \
    "$T/audit.json" "$T"/origin*.log > "$T/verdicts"
while IFS='	' read -r rc what; do
	ok "$rc" "$what"
done < "$T/verdicts"
ok $([ "$(wc -l < "$T/verdicts")" -eq $((3 * nrows)) ]; echo $?) \
    "$nrows rows, 3 checks each"

# --- the issue's second table: a static service, endpoints on two ports ---
st=""
for i in 1 2 3 4 5 6; do
	st="$st$(curl -s -m 10 -o /dev/null -w '%{http_code}' -H "Host: mixed2.test:$OP" "http://127.0.0.1:$P/small")"
done
nA=$(origin_count '"mixed2.test'); nB=$(grep -c '"mixed2.test' "$T/originB.log")
nC=$(grep -c '"mixed2.test' "$T/originC.log"); nD=$(grep -c '"mixed2.test' "$T/originD.log")
ok $([ "$st" = 200200200200200200 ]; echo $?) "static endpoints on different ports: 6 of 6 served ($st)"
ok $([ "$nB" = 2 ] && [ "$nC" = 2 ] && [ "$nD" = 2 ]; echo $?) \
    "each endpoint dialed on its own port, round robin: 127.0.0.1:$OP2 $nB, 127.0.0.2:$OP $nC, 127.0.0.3 (no port: the service's, $OP) $nD"
ok $([ "$nA" = 0 ]; echo $?) "nothing dialed at 127.0.0.1:$OP, the port of another endpoint ($nA)"
ok $([ "$(audit_get count authority=mixed2.test upstream=127.0.0.1 upstream_port="$OP2" status=200)" = 2 ] &&
    [ "$(audit_get count authority=mixed2.test upstream=127.0.0.2 upstream_port="$OP" status=200)" = 2 ] &&
    [ "$(audit_get count authority=mixed2.test upstream=127.0.0.3 upstream_port="$OP" status=200)" = 2 ]; echo $?) \
    "audit: upstream and upstream_port are each endpoint's own"
ok $(python3 - "$T/originB.log" "$T/originC.log" "$OP" <<'PY'
import json, sys
heads = [json.loads(l)["head"] for f in sys.argv[1:3] for l in open(f)]
hosts = [h for head in heads for h in head if h.lower().startswith("host:")]
sys.exit(0 if len(hosts) == 4 and
         set(hosts) == {"Host: mixed2.test:" + sys.argv[3]} else 1)
PY
echo $?) "the Host sent is the destination's (mixed2.test:$OP), whatever the endpoint's port"

ok $(audit_get dump > /dev/null; echo $?) "every audit record parses"
stop_egressd
ok $([ "$EGD_STATUS" -eq 0 ]; echo $?) "stops with status 0"
done_testing

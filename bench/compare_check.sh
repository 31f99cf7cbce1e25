#!/usr/bin/env bash
# tsecho compare checked against bench/engines.sh, run right after it on the
# same machine: the server CPU per message each one measures, engine by
# engine and connection count by connection count, and their ratio. The two
# differ in their load (tsecho bench's workers against bench/pingpong) and in
# what they count (compare: from connect to the last reply, warm-up included;
# engines.sh: the load only), so agreement means a ratio near 1 within the
# runs' own noise, which both print.
#
# Environment:
#   CONNS="..."     connection counts (default "1 64 1000")
#   ENGINES="..."   engines (default "io_uring epoll select")
#   RUNS=N          repetitions of each (default 3)
#   DURATION=SECS   per step and run (default 2)

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

conns=${CONNS:-1 64 1000}
engines=${ENGINES:-io_uring epoll select}
runs=${RUNS:-3}
duration=${DURATION:-2}
out=$(mktemp -d) || die "cannot make a temporary directory"
trap 'rm -rf "$out"' EXIT

[[ -x $tsecho ]] || die "no $tsecho: build it first (make)"
command -v python3 >/dev/null || die "python3 is needed to read the results"

echo "== tsecho compare -w closed -c ${conns// /,} -n $runs -t ${duration}s"
"$tsecho" compare -q -w closed -c "${conns// /,}" -e "${engines// /,}" -n "$runs" \
	-t "${duration}s" --json "$out/compare.json" >"$out/compare.txt" ||
	echo "$bench_name: compare exited $? (a fault: see its table)" >&2
echo "== bench/engines.sh, right after"
CONNS=$conns ENGINES=$engines RUNS=$runs DURATION=$duration "$script_dir/engines.sh" \
	>"$out/engines.txt" || die "engines.sh failed: $(tail -n 5 "$out/engines.txt")"

python3 - "$out/compare.json" "$out/engines.txt" <<'PY'
import json, re, sys

doc = json.load(open(sys.argv[1]))
compare = {}
for res in doc["results"]:
    m = re.match(r"closed (\d+) conns", res["step"])
    if m and res["server_cpu_us_per_message"] is not None:
        compare[(res["server"], int(m.group(1)))] = res["server_cpu_us_per_message"]

# engines.sh's third table: "CONNS  u + s  u + s ..." per engine, in order.
text = open(sys.argv[2]).read()
head = [l for l in text.splitlines() if l.startswith("conns")][0].split()[1:]
table = text.split("server CPU per round trip")[1].splitlines()[1:]
script = {}
for line in table:
    nums = re.findall(r"(\d+(?:\.\d+)?) \+\s+(\d+(?:\.\d+)?)", line)
    first = line.split()[0] if line.split() else ""
    if not first.isdigit() or len(nums) != len(head):
        continue
    for engine, (u, s) in zip(head, nums):
        script[(engine, int(first))] = float(u) + float(s)

print("server CPU per message, us: compare | engines.sh | ratio")
print("%-10s %6s %9s %11s %7s" % ("engine", "conns", "compare", "engines.sh", "ratio"))
for key in sorted(set(compare) & set(script), key=lambda k: (k[1], k[0])):
    c, s = compare[key], script[key]
    print("%-10s %6d %9.2f %11.2f %7.2f" % (key[0], key[1], c, s, c / s))
PY

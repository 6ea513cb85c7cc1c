#!/usr/bin/env bash
# Runs the channel, Notify and Barrier rows of the benchmark table (every
# gate primitive against its peer) in interleaved rounds, then prints the
# per-round ratios gate/peer.
#
#	[ROUNDS=8] [CPUS=1,4,16] [BENCHTIME=0.2s] ./run-channels.sh OUT
#
# The test binary is built once; each round is one run of it with
# -test.count 1, appended to OUT (it is not truncated: remove it first for a
# fresh table), so that drift of the machine between rounds cancels in the
# ratios (see BENCHMARKS.md). CPUS, if set, is passed as -test.cpu (names get
# a -N suffix and ratios keeps each N apart); BENCHTIME as -test.benchtime.
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: [ROUNDS=8] [CPUS=1,4,16] [BENCHTIME=0.2s] $0 OUT" >&2
	exit 2
fi
out=$1
case $out in
/*) ;;
*) out=$PWD/$out ;;
esac
rounds=${ROUNDS:-8}

# One pattern per table row, joined by | (go test's top-level alternation);
# each /-separated element matches one level of the sub-benchmark name.
rows=(
	'^BenchmarkMPSC$/^cap=1024$/^producers=[14]$'         # bounded 1→1 and 4→1, cap 1024, vs buffered chan
	'^BenchmarkMPSC$/^cap=1$/^producers=1$'               # bounded cap 1 vs chan cap 1
	'^BenchmarkMPSCSelect$/^cap=1024$/^producers=1$'      # Ready + TryRecv vs select on a chan
	'^BenchmarkMPSCRecvMany$/^cap=1024$/^producers=4$'    # RecvMany 4→1 vs chan receive loop
	'^BenchmarkMPSCUnbounded$/^producers=[14]$'           # vs chan cap 1024 and xsync UMPSCQueue
	'^BenchmarkOneshot$/^create\+send\+recv$'             # one goroutine, vs chan cap 1
	'^BenchmarkOneshot$/^goroutine-per-send$/^impl='      # send from a new goroutine, vs chan cap 1
	'^BenchmarkNotifyPingPong$/^ctx=background$'          # vs a pair of chans
	'^BenchmarkNotifyWaiters$/^waiters=100$'              # vs closing a chan 100 goroutines wait on
	'^BenchmarkBarrier$/^goroutines=8$'                   # vs sync.Cond barrier
	'^BenchmarkWatch$/^SendReplaceBorrow$/^impl=(gate|atomic)$' # vs atomic.Pointer store + load
	'^BenchmarkWatch$/^Borrow$/^parallel$/^impl=(gate|atomic)$' # GOMAXPROCS readers + 1 writer, vs atomic.Pointer
	'^BenchmarkBroadcastFanout$/^receivers=4$/^cap=1024$' # 1→4 vs 4 buffered chans
)
pattern=$(
	IFS='|'
	echo "${rows[*]}"
)

args=(-test.run '^$' -test.bench "$pattern" -test.count 1 -test.benchmem)
if [ -n "${CPUS:-}" ]; then
	args+=(-test.cpu "$CPUS")
fi
if [ -n "${BENCHTIME:-}" ]; then
	args+=(-test.benchtime "$BENCHTIME")
fi

cd "$(dirname "$0")"
go test -c -o /tmp/gate-bench.test .
for i in $(seq "$rounds"); do
	echo "round $i/$rounds" >&2
	/tmp/gate-bench.test "${args[@]}" >>"$out"
done
go run ./ratios "$out"

// Package bench compares gate's primitives with what a Go user would pick
// instead: the standard library's sync.Mutex and sync.RWMutex,
// golang.org/x/sync/semaphore and a buffered channel used as a semaphore. It
// is a separate module so that the library's go.mod names none of them.
//
// Every benchmark is a pair (or more) of sub-benchmarks run through one
// helper, named impl=gate, impl=sync, impl=xsync, impl=chan, so that benchstat
// can put them side by side:
//
//	go test -bench . -benchmem -count 10 | tee new.txt
//	benchstat -col /impl new.txt
//
// run-channels.sh runs the channel, Notify and Barrier rows in interleaved
// rounds of one test binary and prints the per-round ratios of ./ratios:
//
//	ROUNDS=8 CPUS=1,4,16 ./run-channels.sh results/channels.txt
package bench

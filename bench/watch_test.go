package bench

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gophergate/gate"
)

// The watch benchmarks compare gate's watch channel with what a Go user
// would write for "one value, replaced now and then, read often": an
// atomic.Pointer to a fresh immutable value per store, and a value under a
// sync.RWMutex (tokio's design).

// watchSendBorrowImpls replace the value and read it back, on one goroutine:
// the cost of a store and a load with no contention.
func watchSendBorrowImpls() []impl {
	return []impl{
		{"gate", func() func(int) {
			tx, rx := gate.Watch(0)
			return func(i int) {
				tx.SendReplace(i)
				_ = rx.Borrow()
			}
		}},
		{"atomic", func() func(int) {
			var p atomic.Pointer[int]
			p.Store(new(int))
			return func(i int) {
				v := i
				p.Store(&v)
				_ = *p.Load()
			}
		}},
		{"rwmutex", func() func(int) {
			var mu sync.RWMutex
			var val int
			var version atomic.Uint64
			return func(i int) {
				mu.Lock()
				val = i
				version.Add(1)
				mu.Unlock()
				mu.RLock()
				_ = val
				mu.RUnlock()
			}
		}},
	}
}

// A readerImpl is a value that one goroutine writes while others read it.
// setup returns a writer (one write) and newReader, which makes one reader's
// read function: each reading goroutine calls it once, so that each has its
// own receiver.
type readerImpl struct {
	name  string
	setup func() (write func(i int), newReader func() func())
}

func watchReaderImpls() []readerImpl {
	return []readerImpl{
		{"gate", func() (func(int), func() func()) {
			tx, rx := gate.Watch(0)
			return func(i int) { tx.SendReplace(i) }, func() func() {
				r := rx.Clone()
				return func() { _ = r.Borrow() }
			}
		}},
		{"atomic", func() (func(int), func() func()) {
			var p atomic.Pointer[int]
			p.Store(new(int))
			return func(i int) {
					v := i
					p.Store(&v)
				}, func() func() {
					return func() { _ = *p.Load() }
				}
		}},
		{"rwmutex", func() (func(int), func() func()) {
			var mu sync.RWMutex
			var val int
			return func(i int) {
					mu.Lock()
					val = i
					mu.Unlock()
				}, func() func() {
					return func() {
						mu.RLock()
						_ = val
						mu.RUnlock()
					}
				}
		}},
	}
}

// startWriter starts the one writer goroutine: it writes in a loop,
// yielding the processor after every write, until stop is called; stop
// returns once the writer has.
func startWriter(write func(i int)) (stop func()) {
	var done atomic.Bool
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for i := 0; !done.Load(); i++ {
			write(i)
			runtime.Gosched()
		}
	}()
	return func() {
		done.Store(true)
		<-writerDone
	}
}

// readersWhileWriting runs b.N reads in total, split across g goroutines
// with a reader each, while the writer goroutine writes. ns/op is the time
// per read.
func readersWhileWriting(b *testing.B, g int, im readerImpl) {
	b.ReportAllocs()
	write, newReader := im.setup()
	stop := startWriter(write)
	release, wait := gang(g, func(k int) func() {
		n, read := share(b.N, g, k), newReader()
		return func() {
			for range n {
				read()
			}
		}
	})
	b.ResetTimer()
	release()
	wait()
	b.StopTimer()
	stop()
}

// parallelReadersWhileWriting reads under b.RunParallel (GOMAXPROCS
// goroutines, so it grows with -cpu), each goroutine with its own reader
// made before the timer starts, while the writer goroutine writes. ns/op is
// the time per read.
func parallelReadersWhileWriting(b *testing.B, im readerImpl) {
	b.ReportAllocs()
	write, newReader := im.setup()
	// RunParallel starts GOMAXPROCS goroutines (no SetParallelism here):
	// one reader each.
	readers := make(chan func(), runtime.GOMAXPROCS(0))
	for range cap(readers) {
		readers <- newReader()
	}
	stop := startWriter(write)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		read := <-readers
		for pb.Next() {
			read()
		}
	})
	b.StopTimer()
	stop()
}

func BenchmarkWatch(b *testing.B) {
	b.Run("SendReplaceBorrow", func(b *testing.B) { run(b, watchSendBorrowImpls(), serial) })
	b.Run("Borrow/readers=8", func(b *testing.B) {
		for _, im := range watchReaderImpls() {
			b.Run("impl="+im.name, func(b *testing.B) { readersWhileWriting(b, 8, im) })
		}
	})
	b.Run("Borrow/parallel", func(b *testing.B) {
		for _, im := range watchReaderImpls() {
			b.Run("impl="+im.name, func(b *testing.B) { parallelReadersWhileWriting(b, im) })
		}
	})
}

package bench

import (
	"context"
	"sync"
	"testing"

	"github.com/gophergate/gate"
	"golang.org/x/sync/semaphore"
)

// An impl is one implementation of a benchmarked operation: op runs one
// iteration (for example Lock then Unlock).
type impl struct {
	name string
	op   func() func(i int) // returns a fresh op over a fresh primitive; i counts the caller's own iterations
}

// run benchmarks every impl with the same driver, as sub-benchmarks
// impl=<name>, so that benchstat -col /impl compares them.
func run(b *testing.B, impls []impl, drive func(b *testing.B, op func(int))) {
	for _, im := range impls {
		b.Run("impl="+im.name, func(b *testing.B) {
			b.ReportAllocs()
			drive(b, im.op())
		})
	}
}

// serial runs op b.N times on one goroutine: the uncontended fast path.
func serial(b *testing.B, op func(int)) {
	i := 0
	for b.Loop() {
		op(i)
		i++
	}
}

// goroutines returns a driver that runs op b.N times in total, split across g
// goroutines that all start together: g goroutines contend whatever the
// number of CPUs (-cpu).
func goroutines(g int) func(b *testing.B, op func(int)) {
	return together(g, func(b *testing.B, k int) int { return share(b.N, g, k) })
}

// together returns a driver that runs op count(b, k) times on the k-th of g
// goroutines that all start together, once the timer is reset.
func together(g int, count func(b *testing.B, k int) int) func(b *testing.B, op func(int)) {
	return func(b *testing.B, op func(int)) {
		release, wait := launch(g, func(k int) int { return count(b, k) }, op)
		b.ResetTimer()
		release()
		wait()
	}
}

// share is the k-th of g goroutines' part of total: total/g, one more for the
// first total%g of them.
func share(total, g, k int) int {
	n := total / g
	if k < total%g {
		n++
	}
	return n
}

// launch starts g goroutines, the k-th to call op(i) for i from 0 to count(k)
// once release is called; wait waits for them to finish.
func launch(g int, count func(k int) int, op func(int)) (release, wait func()) {
	return gang(g, func(k int) func() {
		n := count(k)
		return func() {
			for i := range n {
				op(i)
			}
		}
	})
}

// gang starts g goroutines, the k-th to run the func that each(k) returns
// (each runs here, so what it sets up is not timed); they wait for release,
// and wait waits for them to finish.
func gang(g int, each func(k int) func()) (release, wait func()) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for k := range g {
		work := each(k)
		wg.Go(func() {
			<-start
			work()
		})
	}
	return func() { close(start) }, wg.Wait
}

// parallel runs op under b.RunParallel: GOMAXPROCS goroutines, the classic
// contention benchmark that grows with -cpu.
func parallel(b *testing.B, op func(int)) {
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			op(i)
		}
	})
}

var ctx = context.Background()

func mutexImpls() []impl {
	return []impl{
		{"gate", func() func(int) {
			var m gate.Mutex[int]
			return func(int) {
				p, _ := m.Lock(ctx)
				*p++
				m.Unlock()
			}
		}},
		{"sync", func() func(int) {
			var m sync.Mutex
			v := 0
			return func(int) {
				m.Lock()
				v++
				m.Unlock()
			}
		}},
		{"chan", func() func(int) {
			// The Go floor for a fair hand-off: a channel of capacity 1 used
			// as a lock. Blocked senders are served in order and a receive
			// moves the oldest one's value into the buffer: strictly FIFO
			// with direct hand-off, one channel lock per operation.
			c := make(chan struct{}, 1)
			v := 0
			return func(int) {
				c <- struct{}{}
				v++
				<-c
			}
		}},
		{"xsync", func() func(int) {
			// The fair peer: a Weighted semaphore of size 1 used as a lock.
			s := semaphore.NewWeighted(1)
			v := 0
			return func(int) {
				_ = s.Acquire(ctx, 1)
				v++
				s.Release(1)
			}
		}},
	}
}

func rwmutexReadImpls() []impl {
	return []impl{
		{"gate", func() func(int) {
			var rw gate.RWMutex[int]
			return func(int) {
				p, _ := rw.RLock(ctx)
				_ = *p
				rw.RUnlock()
			}
		}},
		{"sync", func() func(int) {
			var rw sync.RWMutex
			v := 0
			return func(int) {
				rw.RLock()
				_ = v
				rw.RUnlock()
			}
		}},
	}
}

// rwmutexMixedImpls does one write in every 16 operations.
func rwmutexMixedImpls() []impl {
	return []impl{
		{"gate", func() func(int) {
			var rw gate.RWMutex[int]
			return func(i int) {
				if i%16 == 15 {
					p, _ := rw.Lock(ctx)
					*p++
					rw.Unlock()
					return
				}
				p, _ := rw.RLock(ctx)
				_ = *p
				rw.RUnlock()
			}
		}},
		{"sync", func() func(int) {
			var rw sync.RWMutex
			var v int
			return func(i int) {
				if i%16 == 15 {
					rw.Lock()
					v++
					rw.Unlock()
					return
				}
				rw.RLock()
				_ = v
				rw.RUnlock()
			}
		}},
	}
}

func semaphoreImpls(permits int) []impl {
	return []impl{
		{"gate", func() func(int) {
			s := gate.NewSemaphore(permits)
			return func(int) {
				p, _ := s.Acquire(ctx)
				p.Release()
			}
		}},
		{"xsync", func() func(int) {
			s := semaphore.NewWeighted(int64(permits))
			return func(int) {
				_ = s.Acquire(ctx, 1)
				s.Release(1)
			}
		}},
		{"chan", func() func(int) {
			c := make(chan struct{}, permits)
			return func(int) {
				c <- struct{}{}
				<-c
			}
		}},
	}
}

func BenchmarkMutex(b *testing.B) {
	b.Run("uncontended", func(b *testing.B) { run(b, mutexImpls(), serial) })
	b.Run("goroutines=8", func(b *testing.B) { run(b, mutexImpls(), goroutines(8)) })
	b.Run("parallel", func(b *testing.B) { run(b, mutexImpls(), parallel) })
}

func BenchmarkRWMutexRead(b *testing.B) {
	b.Run("uncontended", func(b *testing.B) { run(b, rwmutexReadImpls(), serial) })
	b.Run("parallel", func(b *testing.B) { run(b, rwmutexReadImpls(), parallel) })
}

func BenchmarkRWMutexMixed(b *testing.B) {
	b.Run("goroutines=8", func(b *testing.B) { run(b, rwmutexMixedImpls(), goroutines(8)) })
}

func BenchmarkSemaphore(b *testing.B) {
	b.Run("uncontended", func(b *testing.B) { run(b, semaphoreImpls(1), serial) })
	b.Run("permits=2/goroutines=8", func(b *testing.B) { run(b, semaphoreImpls(2), goroutines(8)) })
	b.Run("permits=2/parallel", func(b *testing.B) { run(b, semaphoreImpls(2), parallel) })
}

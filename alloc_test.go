package gate_test

// The fast paths allocate nothing, and a contended park allocates at most
// one object, the channel the parked goroutine waits on (STYLE.md, DESIGN.md).

import (
	"context"
	"runtime"
	"sync"
	"testing"

	"github.com/gophergate/gate"
)

// must returns v, and panics if err is not nil: for calls inside
// testing.AllocsPerRun, which has no test to fail.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestFastPathsDoNotAllocate checks the uncontended calls with the contexts a
// caller passes most: context.Background() and a live cancellable one.
func TestFastPathsDoNotAllocate(t *testing.T) {
	live, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, ctx := range []context.Context{context.Background(), live} {
		m := gate.NewMutex(0)
		rw := gate.NewRWMutex(0)
		s := gate.NewSemaphore(4)
		for _, tc := range []struct {
			name string
			f    func()
		}{
			{"Mutex.Lock+Unlock", func() {
				*must(m.Lock(ctx))++
				m.Unlock()
			}},
			{"Mutex.TryLock+Unlock", func() {
				if _, ok := m.TryLock(); !ok {
					panic("TryLock failed")
				}
				m.Unlock()
			}},
			{"RWMutex.RLock+RUnlock", func() {
				must(rw.RLock(ctx))
				rw.RUnlock()
			}},
			{"RWMutex.Lock+Unlock", func() {
				must(rw.Lock(ctx))
				rw.Unlock()
			}},
			{"RWMutex.TryRLock+TryLock", func() {
				if _, ok := rw.TryRLock(); !ok {
					panic("TryRLock failed")
				}
				rw.RUnlock()
				if _, ok := rw.TryLock(); !ok {
					panic("TryLock failed")
				}
				rw.Unlock()
			}},
			{"Semaphore.Acquire+Release", func() {
				p := must(s.Acquire(ctx))
				p.Release()
			}},
			{"Semaphore.AcquireN+Release", func() {
				p := must(s.AcquireN(ctx, 3))
				p.Release()
			}},
			{"Semaphore.TryAcquire+TryAcquireN+Release", func() {
				p := must(s.TryAcquire())
				q := must(s.TryAcquireN(2))
				p.Merge(&q)
				p.Release()
			}},
		} {
			if a := testing.AllocsPerRun(1000, tc.f); a != 0 {
				t.Errorf("%s (ctx %v): %v allocations per call, want 0", tc.name, ctx, a)
			}
		}
	}
}

// TestParkAllocatesAtMostOne hands a lock back and forth between two
// goroutines so that every acquire parks: one holds, the other calls lock,
// parks, and is handed the lock when the holder, having seen it queued,
// releases; then the roles swap. It counts the heap allocations of the whole
// process over many parks: one channel per park, and what else runs in the
// process (the runtime, the test framework) spread over them as noise.
func TestParkAllocatesAtMostOne(t *testing.T) {
	watchdog(t)
	const parks = 2000
	for _, tc := range bubblePrimitives(gate.NewSemaphore(1), gate.NewMutex(0), gate.NewRWMutex(0)) {
		t.Run(tc.name, func(t *testing.T) {
			// Each goroutine in turn: wait until the other is queued,
			// release, lock (parks until the other releases). The values
			// are closures made once: a method value made per call would
			// allocate itself.
			lock := func() { must(0, tc.lock(context.Background())) }
			turn := func(n int) {
				for range n {
					for tc.waiters() == 0 {
						runtime.Gosched()
					}
					tc.unlock()
					lock()
				}
				tc.unlock()
			}
			lock()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			var wg sync.WaitGroup
			wg.Go(func() {
				lock()
				turn(parks/2 - 1)
			})
			turn(parks / 2)
			wg.Wait()
			runtime.ReadMemStats(&after)
			perPark := float64(after.Mallocs-before.Mallocs) / parks
			t.Logf("%.3f allocations per park", perPark)
			if perPark > 1.05 {
				t.Errorf("%.3f allocations per park, want at most 1", perPark)
			}
		})
	}
}

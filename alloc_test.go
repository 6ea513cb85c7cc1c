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
				p, err := m.Lock(ctx)
				if err != nil {
					panic(err)
				}
				*p++
				m.Unlock()
			}},
			{"Mutex.TryLock+Unlock", func() {
				if _, ok := m.TryLock(); !ok {
					panic("TryLock failed")
				}
				m.Unlock()
			}},
			{"RWMutex.RLock+RUnlock", func() {
				if _, err := rw.RLock(ctx); err != nil {
					panic(err)
				}
				rw.RUnlock()
			}},
			{"RWMutex.Lock+Unlock", func() {
				if _, err := rw.Lock(ctx); err != nil {
					panic(err)
				}
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
				p, err := s.Acquire(ctx)
				if err != nil {
					panic(err)
				}
				p.Release()
			}},
			{"Semaphore.AcquireN+Release", func() {
				p, err := s.AcquireN(ctx, 3)
				if err != nil {
					panic(err)
				}
				p.Release()
			}},
			{"Semaphore.TryAcquire+TryAcquireN+Release", func() {
				p, err := s.TryAcquire()
				if err != nil {
					panic(err)
				}
				q, err := s.TryAcquireN(2)
				if err != nil {
					panic(err)
				}
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
	m := gate.NewMutex(0)
	rw := gate.NewRWMutex(0)
	s := gate.NewSemaphore(1)
	var p gate.Permit // the Semaphore's holder's; one holder at a time
	for _, tc := range []struct {
		name         string
		lock, unlock func()
		waiters      func() int
	}{
		{"Mutex",
			func() {
				if _, err := m.Lock(context.Background()); err != nil {
					panic(err)
				}
			},
			func() { m.Unlock() },
			func() int { return gate.MutexWaiters(m) }},
		{"RWMutex",
			func() {
				if _, err := rw.Lock(context.Background()); err != nil {
					panic(err)
				}
			},
			func() { rw.Unlock() },
			func() int { return gate.RWMutexWaiters(rw) }},
		{"Semaphore",
			func() {
				q, err := s.Acquire(context.Background())
				if err != nil {
					panic(err)
				}
				p.Merge(&q)
			},
			func() { p.Release() },
			func() int { return gate.SemaphoreWaiters(s) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Each goroutine in turn: wait until the other is queued,
			// release, lock (parks until the other releases). The values
			// are closures made once: a method value made per call would
			// allocate itself.
			turn := func(n int) {
				for range n {
					for tc.waiters() == 0 {
						runtime.Gosched()
					}
					tc.unlock()
					tc.lock()
				}
				tc.unlock()
			}
			tc.lock()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			var wg sync.WaitGroup
			wg.Go(func() {
				tc.lock()
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

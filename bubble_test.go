package gate_test

// The bubble rule of API.md (Testing): a primitive created outside any
// synctest bubble, a package-level variable, works in one bubble after
// another and outside them, with real waits: no channel made for a wait in
// one bubble is used by another or outside it. A violation either kills the
// test binary ("select on synctest channel from outside bubble") or leaves a
// bubbled goroutine parked on an outside channel, which is not durably
// blocked: its deadline on the bubble's clock never fires and the test hangs
// until the watchdog fails it.

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gophergate/gate"
)

// Package-level primitives, shared by every bubble of TestBubblesInARow.
var (
	bubbleSem = gate.NewSemaphore(1)
	bubbleMu  gate.Mutex[int]
	bubbleRW  gate.RWMutex[int]
)

// A bubblePrimitive is one package-level primitive seen as a lock: lock
// waits (with ctx), unlock releases, waiters counts the queued goroutines.
type bubblePrimitive struct {
	name    string
	lock    func(ctx context.Context) error
	unlock  func()
	waiters func() int
}

// bubblePrimitives returns the three primitives as locks. The Semaphore's
// permit is kept in a variable of the caller's, one holder at a time.
func bubblePrimitives(s *gate.Semaphore, m *gate.Mutex[int], rw *gate.RWMutex[int]) []bubblePrimitive {
	var p gate.Permit
	return []bubblePrimitive{
		{"Semaphore",
			func(ctx context.Context) error {
				q, err := s.Acquire(ctx)
				p.Merge(&q)
				return err
			},
			func() { p.Release() },
			func() int { return gate.SemaphoreWaiters(s) }},
		{"Mutex", incrementLock(m.Lock), m.Unlock, func() int { return gate.MutexWaiters(m) }},
		{"RWMutex", incrementLock(rw.Lock), rw.Unlock, func() int { return gate.RWMutexWaiters(rw) }},
	}
}

// incrementLock returns a lock call that increments the value it locked, so
// that the race detector checks the lock's happens-before edges.
func incrementLock(lock func(context.Context) (*int, error)) func(context.Context) error {
	return func(ctx context.Context) error {
		p, err := lock(ctx)
		if err == nil {
			*p++
		}
		return err
	}
}

// contendInBubble holds pr, parks two goroutines on it (the second one with
// a 1-hour deadline that then fires on the bubble's clock), hands the lock to
// the first, and leaves pr unlocked. It runs inside a bubble.
func contendInBubble(t *testing.T, pr bubblePrimitive) {
	t.Helper()
	if err := pr.lock(t.Context()); err != nil {
		t.Fatalf("%s: uncontended lock: %v", pr.name, err)
	}
	first := goErr(pr.name+" first waiter", func() error { return pr.lock(t.Context()) })
	synctest.Wait()
	ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
	defer cancel()
	second := goErr(pr.name+" waiter with a 1h deadline", func() error { return pr.lock(ctx) })
	synctest.Wait()
	first.pending(t)
	second.pending(t)
	if n := pr.waiters(); n != 2 {
		t.Fatalf("%s: %d waiters, want 2", pr.name, n)
	}
	time.Sleep(time.Hour)
	synctest.Wait()
	second.failed(t, context.DeadlineExceeded)
	pr.unlock()
	synctest.Wait()
	first.ok(t)
	pr.unlock()
	if n := pr.waiters(); n != 0 {
		t.Fatalf("%s: %d waiters at the end, want 0", pr.name, n)
	}
}

// contendOutside does the same with real goroutines outside any bubble,
// without the deadline: a cancel ends the second wait.
func contendOutside(t *testing.T, pr bubblePrimitive) {
	t.Helper()
	if err := pr.lock(context.Background()); err != nil {
		t.Fatalf("%s: uncontended lock: %v", pr.name, err)
	}
	first := goErr(pr.name+" first waiter", func() error { return pr.lock(context.Background()) })
	waitQueued(t, pr, 1)
	ctx, cancel := context.WithCancel(context.Background())
	second := goErr(pr.name+" cancelled waiter", func() error { return pr.lock(ctx) })
	waitQueued(t, pr, 2)
	cancel()
	if _, err := second.wait(t); err != context.Canceled {
		t.Fatalf("%s: cancelled waiter = %v, want context.Canceled", pr.name, err)
	}
	pr.unlock()
	if _, err := first.wait(t); err != nil {
		t.Fatalf("%s: first waiter = %v, want the lock", pr.name, err)
	}
	pr.unlock()
}

// waitQueued waits, outside a bubble, until n goroutines are queued on pr.
func waitQueued(t *testing.T, pr bubblePrimitive, n int) {
	t.Helper()
	for deadline := time.Now().Add(watchdogTimeout); pr.waiters() < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d waiters, want %d", pr.name, pr.waiters(), n)
		}
	}
}

// TestBubblesInARow uses the package-level primitives with real waits in
// three bubbles, one after another, and then outside any bubble.
func TestBubblesInARow(t *testing.T) {
	watchdog(t)
	prs := bubblePrimitives(bubbleSem, &bubbleMu, &bubbleRW)
	for range 3 {
		synctest.Test(t, func(t *testing.T) {
			for _, pr := range prs {
				contendInBubble(t, pr)
			}
		})
	}
	for _, pr := range prs {
		contendOutside(t, pr)
	}
	if got := bubbleSem.Available(); got != 1 {
		t.Fatalf("Semaphore: Available() = %d at the end, want 1", got)
	}
}

// TestBubbleAfterOutside contends each primitive outside any bubble first,
// then waits on it in a bubble with a 1-hour deadline, which must fire on the
// bubble's clock.
func TestBubbleAfterOutside(t *testing.T) {
	watchdog(t)
	var (
		s  = gate.NewSemaphore(1)
		m  gate.Mutex[int]
		rw gate.RWMutex[int]
	)
	prs := bubblePrimitives(s, &m, &rw)
	for _, pr := range prs {
		contendOutside(t, pr)
	}
	synctest.Test(t, func(t *testing.T) {
		for _, pr := range prs {
			contendInBubble(t, pr)
		}
	})
}

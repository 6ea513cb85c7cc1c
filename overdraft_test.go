package gate_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"

	"github.com/gophergate/gate"
)

// This file tests how an acquire settles an overdraft: the lock-free fast
// path loads the word, sees the permits, and takes them with an atomic add;
// if another goroutine took them in between, the add overdraws the word and
// the slow path must settle the debt under the queue lock (sync.go,
// "Overdrafts"). The race itself is rare and unschedulable, so each test
// replays it with gate.SemaphoreOverdraw: the add first, then the slow path.
// What must hold: while the overdraft is out, every observer sees a state in
// which the owing goroutine is queued with what it overdrew (no permit shows
// up that a later goroutine could take ahead of it), and once settled the
// permits are all accounted for.

// goSettle runs the slow half of an overdrawn acquire in a new goroutine.
func goSettle(ctx context.Context, settle func(context.Context) (gate.Permit, error)) <-chan acquired {
	ch := make(chan acquired, 1)
	go func() {
		p, err := settle(ctx)
		ch <- acquired{p, err}
	}()
	return ch
}

// wantNothingFree checks every lock-free observer of s while an overdraft
// makes its word negative: nothing is available, nothing can be tried or
// forgotten, and TryAcquireN(0) still succeeds on an open semaphore.
func wantNothingFree(t *testing.T, s *gate.Semaphore) {
	t.Helper()
	wantAvailable(t, s, 0)
	wantTryErr(t, s, 1, gate.ErrNoPermits)
	if got := s.ForgetPermits(1); got != 0 {
		t.Fatalf("ForgetPermits(1) = %d while overdrawn, want 0", got)
	}
	if p, err := s.TryAcquireN(0); err != nil || p.Count() != 0 {
		t.Fatalf("TryAcquireN(0) while overdrawn = (%d, %v), want (0, nil)", p.Count(), err)
	}
}

// The permit went to another goroutine first: the owing goroutine gives its
// overdraft back, queues, and gets the permit when it is released.
func TestOverdraftLostRaceQueues(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := gate.NewSemaphore(1)
		first := mustTry(t, s, 1) // the winner of the race
		settle := gate.SemaphoreOverdraw(s, 1)
		wantNothingFree(t, s)

		ch := goSettle(t.Context(), settle)
		synctest.Wait()
		assertBlocked(t, ch)
		wantWaiters(t, s, 1)
		wantNothingFree(t, s)

		first.Release()
		synctest.Wait()
		p := granted(t, ch, 1)
		wantWaiters(t, s, 0)
		wantAvailable(t, s, 0)
		p.Release()
		wantAvailable(t, s, 1)
	})
}

// The permit came back before the owing goroutine reached the lock: what its
// add took is its own after all, and it returns without waiting. The release
// in between, whose add saw the negative word, must neither panic nor expose
// the permit.
func TestOverdraftSettledByRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := gate.NewSemaphore(1)
		first := mustTry(t, s, 1)
		settle := gate.SemaphoreOverdraw(s, 1)
		first.Release()
		wantNothingFree(t, s)

		// A cancelled context does not matter: the permits are there.
		p, err := settle(cancelledCtx(t.Context()))
		if err != nil || p.Count() != 1 {
			t.Fatalf("settle = (%d, %v), want (1, nil)", p.Count(), err)
		}
		wantAvailable(t, s, 0)
		wantWaiters(t, s, 0)
		p.Release()
		wantAvailable(t, s, 1)
	})
}

// Part of the request is there: the owing goroutine takes it as its partial
// grant, queues for the rest, and completes once enough comes back.
func TestOverdraftPartialGrant(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := gate.NewSemaphore(3)
		held := mustTry(t, s, 2)
		settle := gate.SemaphoreOverdraw(s, 2) // one permit left, two overdrawn
		wantNothingFree(t, s)

		ch := goSettle(t.Context(), settle)
		synctest.Wait()
		assertBlocked(t, ch)
		wantWaiters(t, s, 1)
		wantHeadGrant(t, s, 1)

		held.Release()
		synctest.Wait()
		p := granted(t, ch, 2)
		wantAvailable(t, s, 1)
		p.Release()
		wantAvailable(t, s, 3)
	})
}

// A context that is done when the goroutine must wait: it returns ctx.Err()
// and gives back the overdraft, leaving the available permits in place.
func TestOverdraftCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := gate.NewSemaphore(3)
		held := mustTry(t, s, 2)
		settle := gate.SemaphoreOverdraw(s, 2)
		_, err := settle(cancelledCtx(t.Context()))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("settle with a cancelled ctx: %v, want context.Canceled", err)
		}
		wantWaiters(t, s, 0)
		wantAvailable(t, s, 1)
		held.Release()
		wantAvailable(t, s, 3)
	})
}

// The semaphore was closed while the overdraft was out: ErrClosed, and the
// overdraft goes back when the owing goroutine settles it, not at Close
// (documented on Semaphore.Close).
func TestOverdraftClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := gate.NewSemaphore(2)
		settle := gate.SemaphoreOverdraw(s, 1)
		s.Close()
		wantAvailable(t, s, 1)
		_, err := settle(t.Context())
		if err != gate.ErrClosed {
			t.Fatalf("settle after Close: %v, want ErrClosed", err)
		}
		wantAvailable(t, s, 2)
	})
}

// Someone was queued already (the add raced with the queued bit being set):
// the overdraft goes back to the queue first, the earlier waiter gets the
// next permit, and the owing goroutine queues behind it. Strict FIFO.
func TestOverdraftBehindQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := gate.NewSemaphore(1)
		first := mustTry(t, s, 1)
		earlier := startWaiter(t, t.Context(), s, 1)
		settle := gate.SemaphoreOverdraw(s, 1)

		// The release's add sees the queued bit, but the permit is
		// still owed by the overdraft: the waiter keeps waiting until it
		// is settled.
		first.Release()
		synctest.Wait()
		assertBlocked(t, earlier)

		later := goSettle(t.Context(), settle)
		synctest.Wait()
		p := granted(t, earlier, 1)
		assertBlocked(t, later)
		wantWaiters(t, s, 1)

		p.Release()
		synctest.Wait()
		q := granted(t, later, 1)
		q.Release()
		wantAvailable(t, s, 1)
		wantWaiters(t, s, 0)
	})
}

// Two overdrafts out at once, settled in the opposite order of their adds:
// both end up served and nothing is lost or duplicated.
func TestOverdraftTwoOutstanding(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := gate.NewSemaphore(1)
		first := mustTry(t, s, 1)
		settleA := gate.SemaphoreOverdraw(s, 1)
		settleB := gate.SemaphoreOverdraw(s, 1)

		b := goSettle(t.Context(), settleB)
		synctest.Wait()
		assertBlocked(t, b)
		wantWaiters(t, s, 1)
		wantHeadGrant(t, s, 0) // A's debt is not B's to take
		a := goSettle(t.Context(), settleA)
		synctest.Wait()
		assertBlocked(t, a)
		wantWaiters(t, s, 2)

		first.Release()
		synctest.Wait()
		pb := granted(t, b, 1)
		assertBlocked(t, a)
		pb.Release()
		synctest.Wait()
		pa := granted(t, a, 1)
		pa.Release()
		wantAvailable(t, s, 1)
	})
}

// AddPermits and Release check MaxPermits against the word, which an
// outstanding overdraft lowers. When such a race lets the count pass
// MaxPermits, settling the overdraft saturates the count at MaxPermits instead
// of wrapping it (the excess came from a call that exceeded MaxPermits).
func TestOverdraftSaturatesAtMaxPermits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := gate.NewSemaphore(1)
		held := mustTry(t, s, 1)
		settle := gate.SemaphoreOverdraw(s, 1)
		s.Close()
		s.AddPermits(gate.MaxPermits) // the word shows MaxPermits-1: allowed
		held.Release()                // the word shows MaxPermits: allowed
		if _, err := settle(t.Context()); err != gate.ErrClosed {
			t.Fatalf("settle after Close: %v, want ErrClosed", err)
		}
		wantAvailable(t, s, gate.MaxPermits)
		mustPanicGate(t, "AddPermits(1) at MaxPermits", func() { s.AddPermits(1) })
		wantAvailable(t, s, gate.MaxPermits)
	})
}

// A release whose add wraps past the field is still told apart from one that
// merely found an overdraft: both make the word negative.
func TestOverdraftReleaseWrapStillPanics(t *testing.T) {
	s := gate.NewSemaphore(gate.MaxPermits)
	settle := gate.SemaphoreOverdraw(s, 1) // word MaxPermits-1, owing 1
	mustPanicGate(t, "AddPermits(MaxPermits) at MaxPermits", func() { s.AddPermits(gate.MaxPermits) })
	p, err := settle(t.Context())
	if err != nil || p.Count() != 1 {
		t.Fatalf("settle = (%d, %v), want (1, nil)", p.Count(), err)
	}
	p.Release()
	wantAvailable(t, s, gate.MaxPermits)
}

// A reader's overdraft on an RWMutex: a writer that unlocks (its blind CAS
// fails on the overdrawn word) hands the lock over, and Downgrade of a
// single-reader RWMutex does not mistake the overdraft for misuse.
func TestOverdraftRWMutexReader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rw := gate.NewRWMutexMaxReaders(7, 1)
		if _, err := rw.Lock(t.Context()); err != nil {
			t.Fatal(err)
		}
		settle := gate.RWMutexOverdrawRead(rw)
		rw.Downgrade() // must not panic: the writer holds the one permit
		rw.RUnlock()   // the word now shows the permit the reader owes
		v, err := settle(t.Context())
		if err != nil || *v != 7 {
			t.Fatalf("settle = (%v, %v), want the value and nil", v, err)
		}
		if _, ok := rw.TryLock(); ok {
			t.Fatal("TryLock succeeded while the reader holds rw")
		}
		rw.RUnlock()
		if _, ok := rw.TryLock(); !ok {
			t.Fatal("TryLock failed on an unlocked RWMutex")
		}
		rw.Unlock()
	})
}

// A reader's overdraft against a writer that arrived first: the reader queues
// behind it; the writer's Unlock passes the lock to the reader.
func TestOverdraftRWMutexBehindWriter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rw gate.RWMutex[int]
		if _, err := rw.Lock(t.Context()); err != nil {
			t.Fatal(err)
		}
		settle := gate.RWMutexOverdrawRead(&rw)
		done := make(chan error, 1)
		go func() {
			_, err := settle(t.Context())
			done <- err
		}()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("reader returned %v while the writer holds rw", err)
		default:
		}
		if got := gate.RWMutexWaiters(&rw); got != 1 {
			t.Fatalf("RWMutexWaiters = %d, want 1", got)
		}
		rw.Unlock()
		synctest.Wait()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		rw.RUnlock()
		if got := gate.RWMutexAvailable(&rw); got != gate.MaxReaders {
			t.Fatalf("RWMutexAvailable = %d, want MaxReaders", got)
		}
	})
}

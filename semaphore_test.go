package gate_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gophergate/gate"
)

// This file tests Semaphore and Permit: ports of tokio's
// tests/sync_semaphore.rs, tests/sync_semaphore_owned.rs and
// src/sync/tests/semaphore_batch.rs, then one test per rule of API.md.
//
// "Still blocked" and "woke" are asserted exactly inside testing/synctest
// bubbles: a goroutine is started, synctest.Wait() lets every goroutine of the
// bubble finish or park durably, and then its result channel is read without
// blocking. Every waiter uses a context derived from t.Context(), so a failing
// test never strands a goroutine.

// ---------------------------------------------------------------------------
// Helpers

// goAcquire calls s.AcquireN(ctx, n) in a new goroutine (see async). A call
// that succeeds with a Permit of other than n permits, or fails holding any,
// returns an error that no check accepts.
func goAcquire(ctx context.Context, s *gate.Semaphore, n int) *async[*gate.Permit] {
	return goCall(fmt.Sprintf("AcquireN(%d)", n), func() (*gate.Permit, error) {
		p, err := s.AcquireN(ctx, n)
		if err == nil && p.Count() != n || err != nil && p.Count() != 0 {
			return &p, fmt.Errorf("returned a Permit of %d with error %v", p.Count(), err)
		}
		return &p, err
	})
}

// startWaiter starts s.AcquireN(ctx, n) in a goroutine, waits until the bubble
// is idle and checks that the call is parked and queued (one more waiter than
// before). It must be called from inside a synctest bubble.
func startWaiter(t *testing.T, ctx context.Context, s *gate.Semaphore, n int) *async[*gate.Permit] {
	t.Helper()
	before := gate.SemaphoreWaiters(s)
	ch := goAcquire(ctx, s, n)
	synctest.Wait()
	ch.pending(t)
	if got := gate.SemaphoreWaiters(s); got != before+1 {
		t.Fatalf("after starting AcquireN(%d): %d waiters, want %d", n, got, before+1)
	}
	return ch
}

func wantAvailable(t *testing.T, s *gate.Semaphore, want int) {
	t.Helper()
	wantValue(t, "Available()", s.Available(), want)
}

func wantWaiters(t *testing.T, s *gate.Semaphore, want int) {
	t.Helper()
	wantValue(t, "SemaphoreWaiters", gate.SemaphoreWaiters(s), want)
}

func wantHeadGrant(t *testing.T, s *gate.Semaphore, want int) {
	t.Helper()
	wantValue(t, "SemaphoreHeadGrant", gate.SemaphoreHeadGrant(s), want)
}

func mustTry(t *testing.T, s *gate.Semaphore, n int) *gate.Permit {
	t.Helper()
	p, err := s.TryAcquireN(n)
	if err != nil {
		t.Fatalf("TryAcquireN(%d): %v", n, err)
	}
	if p.Count() != n {
		t.Fatalf("TryAcquireN(%d): permit of %d", n, p.Count())
	}
	return &p
}

func wantTryErr(t *testing.T, s *gate.Semaphore, n int, want error) {
	t.Helper()
	p, err := s.TryAcquireN(n)
	if err != want {
		t.Fatalf("TryAcquireN(%d): err %v, want %v", n, err, want)
	}
	if p.Count() != 0 {
		t.Fatalf("failed TryAcquireN(%d) returned a permit of %d", n, p.Count())
	}
}

// ---------------------------------------------------------------------------
// Ports of tokio/tests/sync_semaphore.rs and tokio/tests/sync_semaphore_owned.rs.
// (The owned variants are the same calls in Go. The *_in_async_context
// variants test a Rust-runtime restriction that Go does not have.)

// Ports sync_semaphore.rs::no_permits.
func TestSemaphoreNoPermits(t *testing.T) {
	s := gate.NewSemaphore(0)
	wantAvailable(t, s, 0)
	if s.IsClosed() {
		t.Fatal("new semaphore is closed")
	}
	wantTryErr(t, s, 1, gate.ErrNoPermits)
}

// Ports sync_semaphore_owned.rs::try_acquire_many.
func TestSemaphoreTryAcquireMany(t *testing.T) {
	s := gate.NewSemaphore(42)
	p1 := mustTry(t, s, 42)
	wantTryErr(t, s, 1, gate.ErrNoPermits)
	p1.Release()
	mustTry(t, s, 32)
	mustTry(t, s, 10)
	wantTryErr(t, s, 1, gate.ErrNoPermits)
}

// Ports sync_semaphore_owned.rs::acquire_many: with 32 of 42 held, acquiring
// 10 succeeds at once and acquiring 32 more waits until the 32 are released.
func TestSemaphoreAcquireMany(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := gate.NewSemaphore(42)
		p32 := mustTry(t, s, 32)
		p10, err := s.AcquireN(t.Context(), 10)
		if err != nil || p10.Count() != 10 {
			t.Fatalf("AcquireN(10): %v, count %d", err, p10.Count())
		}
		w := startWaiter(t, t.Context(), s, 32)
		p32.Release()
		synctest.Wait()
		p := w.ok(t)
		p.Release()
		p10.Release()
		wantAvailable(t, s, 42)
	})
}

// Ports sync_semaphore.rs::add_permits and sync_semaphore_owned.rs::add_permits:
// AddPermits(1) wakes an Acquire on a 0-permit semaphore.
// Also ports sync_semaphore.rs blocking_acquire_waits_for_permit and
// semaphore_batch.rs poll_acquire_one_zero_permits.
func TestSemaphoreAddPermitsWakesWaiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := gate.NewSemaphore(0)
		w := startWaiter(t, t.Context(), s, 1)
		s.AddPermits(1)
		synctest.Wait()
		p := w.ok(t)
		wantAvailable(t, s, 0)
		wantWaiters(t, s, 0)
		p.Release()
		wantAvailable(t, s, 1)
	})
}

// Ports sync_semaphore.rs::add_permits_open.
func TestSemaphoreAddPermitsOpen(t *testing.T) {
	for size := range 4 {
		for add := range 4 {
			s := gate.NewSemaphore(size)
			s.AddPermits(add)
			if got := s.Available(); got != size+add {
				t.Errorf("NewSemaphore(%d).AddPermits(%d): Available() = %d", size, add, got)
			}
			if s.IsClosed() {
				t.Errorf("NewSemaphore(%d).AddPermits(%d): closed", size, add)
			}
		}
	}
}

// Ports sync_semaphore.rs::add_permits_closed: AddPermits on a closed
// semaphore still adds, and the semaphore stays closed.
func TestSemaphoreAddPermitsClosed(t *testing.T) {
	for size := range 4 {
		for add := range 4 {
			s := gate.NewSemaphore(size)
			s.Close()
			s.AddPermits(add)
			if got := s.Available(); got != size+add {
				t.Errorf("closed NewSemaphore(%d).AddPermits(%d): Available() = %d", size, add, got)
			}
			if !s.IsClosed() {
				t.Errorf("closed NewSemaphore(%d).AddPermits(%d): reopened", size, add)
			}
			if _, err := s.TryAcquireN(0); err != gate.ErrClosed {
				t.Errorf("closed NewSemaphore(%d).AddPermits(%d): TryAcquireN(0) err %v, want ErrClosed", size, add, err)
			}
		}
	}
}

// Ports sync_semaphore.rs::forget_open.
func TestSemaphoreForgetPermitsOpen(t *testing.T) {
	for size := range 4 {
		for sub := range 4 {
			s := gate.NewSemaphore(size)
			got := s.ForgetPermits(sub)
			want := max(size-sub, 0)
			if s.Available() != want || got != size-want {
				t.Errorf("NewSemaphore(%d).ForgetPermits(%d) = %d, Available() = %d; want %d, %d",
					size, sub, got, s.Available(), size-want, want)
			}
			if s.IsClosed() {
				t.Errorf("NewSemaphore(%d).ForgetPermits(%d): closed", size, sub)
			}
		}
	}
}

// Ports sync_semaphore.rs::forget_closed (tokio #8021: forgetting permits
// must not reopen a closed semaphore).
func TestSemaphoreForgetPermitsClosed(t *testing.T) {
	for size := range 4 {
		for sub := range 4 {
			s := gate.NewSemaphore(size)
			s.Close()
			got := s.ForgetPermits(sub)
			want := max(size-sub, 0)
			if s.Available() != want || got != size-want {
				t.Errorf("closed NewSemaphore(%d).ForgetPermits(%d) = %d, Available() = %d; want %d, %d",
					size, sub, got, s.Available(), size-want, want)
			}
			if !s.IsClosed() {
				t.Errorf("closed NewSemaphore(%d).ForgetPermits(%d): reopened", size, sub)
			}
			if _, err := s.TryAcquireN(0); err != gate.ErrClosed {
				t.Errorf("closed NewSemaphore(%d).ForgetPermits(%d): TryAcquireN(0) err %v, want ErrClosed", size, sub, err)
			}
		}
	}
}

// Ports sync_semaphore.rs::merge and sync_semaphore_owned.rs::merge.
func TestSemaphorePermitMerge(t *testing.T) {
	s := gate.NewSemaphore(3)
	p1 := mustTry(t, s, 1)
	wantAvailable(t, s, 2)
	p2 := mustTry(t, s, 2)
	wantAvailable(t, s, 0)
	p1.Merge(p2)
	if p1.Count() != 3 || p2.Count() != 0 {
		t.Fatalf("after Merge: counts %d, %d; want 3, 0", p1.Count(), p2.Count())
	}
	wantAvailable(t, s, 0)
	p2.Release() // empty: returns nothing
	wantAvailable(t, s, 0)
	p1.Release()
	wantAvailable(t, s, 3)
}

// Ports sync_semaphore.rs::merge_unrelated_permits and
// sync_semaphore_owned.rs::merge_unrelated_permits (and sync_panic.rs's
// semaphore_merge_unrelated_permits): merging permits of two semaphores panics.
func TestSemaphorePermitMergeUnrelatedPanics(t *testing.T) {
	s1 := gate.NewSemaphore(3)
	s2 := gate.NewSemaphore(3)
	p1 := mustTry(t, s1, 1)
	p2 := mustTry(t, s2, 1)
	mustPanic(t, "Merge of permits of different semaphores", func() { p1.Merge(p2) })
	// An empty permit of another semaphore (Split(0)) is still from another
	// semaphore.
	p3 := mustTry(t, s2, 1)
	empty, ok := p3.Split(0)
	if !ok {
		t.Fatal("Split(0) failed")
	}
	mustPanic(t, "Merge of an empty permit of another semaphore", func() { p1.Merge(&empty) })
}

// Merging a Permit into itself changes nothing (it must not empty it), and a
// merge past MaxPermits, which only copies of a Permit can reach, panics and
// changes neither Permit.
func TestSemaphorePermitMergeSelfAndOverflow(t *testing.T) {
	s := gate.NewSemaphore(3)
	p := mustTry(t, s, 2)
	p.Merge(p)
	if p.Count() != 2 {
		t.Fatalf("after p.Merge(&p): Count() = %d, want 2", p.Count())
	}
	p.Release()
	wantAvailable(t, s, 3)

	big := gate.NewSemaphore(gate.MaxPermits)
	q := mustTry(t, big, gate.MaxPermits)
	dup := gate.CopyPermit(q) // a copy: misuse, but Merge must not wrap the count
	mustPanic(t, "Merge past MaxPermits", func() { q.Merge(&dup) })
	if q.Count() != gate.MaxPermits || dup.Count() != gate.MaxPermits {
		t.Fatalf("after the failed Merge: counts %d and %d, want MaxPermits both", q.Count(), dup.Count())
	}
	dup.Forget()
	q.Release()
	wantAvailable(t, big, gate.MaxPermits)
}

// A copied Permit (the misuse that Permit's noCopy makes go vet report)
// released after the original returns its permits a second time. When that
// would leave more than MaxPermits free, Release panics with "gate: " and
// changes nothing: on the lock-free path (nobody queued), and on the queued
// path, where the free permits are the head waiter's partial grant.
func TestSemaphoreCopiedPermitReleasePanics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, n := range []int{1, gate.MaxPermits} {
			s := gate.NewSemaphore(gate.MaxPermits)
			p := mustTry(t, s, n)
			dup := gate.CopyPermit(p)
			p.Release()
			wantAvailable(t, s, gate.MaxPermits)
			mustPanic(t, fmt.Sprintf("Release of a copied Permit of %d", n), dup.Release)
			wantAvailable(t, s, gate.MaxPermits)
		}

		s := gate.NewSemaphore(gate.MaxPermits)
		p := mustTry(t, s, 2)
		dup := gate.CopyPermit(p)
		r := mustTry(t, s, 1)
		p.Release()
		w := startWaiter(t, t.Context(), s, gate.MaxPermits) // takes MaxPermits-1
		wantHeadGrant(t, s, gate.MaxPermits-1)
		mustPanic(t, "Release of a copied Permit of 2 with a waiter queued", dup.Release)
		wantHeadGrant(t, s, gate.MaxPermits-1)
		wantAvailable(t, s, 0)
		synctest.Wait()
		w.pending(t)
		r.Release()
		synctest.Wait()
		q := w.ok(t)
		q.Release()
		wantAvailable(t, s, gate.MaxPermits)
	})
}

// Ports sync_semaphore.rs::split.
func TestSemaphorePermitSplit(t *testing.T) {
	s := gate.NewSemaphore(5)
	p1 := mustTry(t, s, 3)
	wantAvailable(t, s, 2)
	p2, ok := p1.Split(1)
	if !ok || p1.Count() != 2 || p2.Count() != 1 {
		t.Fatalf("Split(1): ok %v, counts %d, %d; want true, 2, 1", ok, p1.Count(), p2.Count())
	}
	wantAvailable(t, s, 2)
	p3, ok := p1.Split(0)
	if !ok || p3.Count() != 0 || p1.Count() != 2 {
		t.Fatalf("Split(0): ok %v, counts %d, %d; want true, 0, 2", ok, p3.Count(), p1.Count())
	}
	p1.Release()
	wantAvailable(t, s, 4)
	p4, ok := p2.Split(1)
	if !ok || p2.Count() != 0 || p4.Count() != 1 {
		t.Fatalf("Split(1) of 1: ok %v, counts %d, %d; want true, 0, 1", ok, p2.Count(), p4.Count())
	}
	if p, ok := p2.Split(1); ok || p.Count() != 0 || p2.Count() != 0 {
		t.Fatalf("Split(1) of 0: ok %v, counts %d, %d; want false, 0, 0", ok, p.Count(), p2.Count())
	}
	p2.Release()
	wantAvailable(t, s, 4)
	p3.Release()
	wantAvailable(t, s, 4)
	p4.Release()
	wantAvailable(t, s, 5)
}

// Ports sync_semaphore.rs::add_max_amount_permits.
func TestSemaphoreAddMaxAmountPermits(t *testing.T) {
	s := gate.NewSemaphore(0)
	s.AddPermits(gate.MaxPermits)
	wantAvailable(t, s, gate.MaxPermits)
	p := mustTry(t, s, gate.MaxPermits)
	wantAvailable(t, s, 0)
	p.Release()
	wantAvailable(t, s, gate.MaxPermits)
}

// Ports sync_semaphore.rs::add_more_than_max_amount_permits1 and
// add_more_than_max_amount_permits2: AddPermits past MaxPermits panics (and
// adds nothing).
func TestSemaphoreAddMoreThanMaxPermitsPanics(t *testing.T) {
	s := gate.NewSemaphore(1)
	mustPanic(t, "NewSemaphore(1).AddPermits(MaxPermits)", func() { s.AddPermits(gate.MaxPermits) })
	wantAvailable(t, s, 1)

	s = gate.NewSemaphore(gate.MaxPermits - 1)
	s.AddPermits(1)
	wantAvailable(t, s, gate.MaxPermits)
	mustPanic(t, "AddPermits(1) at MaxPermits", func() { s.AddPermits(1) })
	wantAvailable(t, s, gate.MaxPermits)

	s = gate.NewSemaphore(0)
	mustPanic(t, "AddPermits(MaxPermits+1)", func() { s.AddPermits(gate.MaxPermits + 1) })
	mustPanic(t, "AddPermits(math.MaxInt)", func() { s.AddPermits(math.MaxInt) })
	wantAvailable(t, s, 0)

	// Requests whose shifted count does not fit the state word (n<<2
	// truncates) must panic too, not wrap into a subtraction.
	s = gate.NewSemaphore(5)
	for _, n := range []int{math.MaxInt, math.MaxInt - 2, math.MaxInt/2 + 1, gate.MaxPermits + 1} {
		mustPanic(t, fmt.Sprintf("NewSemaphore(5).AddPermits(%d)", n), func() { s.AddPermits(n) })
		wantAvailable(t, s, 5)
	}
}

// Ports sync_semaphore.rs::panic_when_exceeds_maxpermits.
// Also ports semaphore_batch.rs validates_max_permits.
func TestSemaphoreNewAboveMaxPermitsPanics(t *testing.T) {
	mustPanic(t, "NewSemaphore(MaxPermits+1)", func() { gate.NewSemaphore(gate.MaxPermits + 1) })
	mustPanic(t, "NewSemaphore(math.MaxInt)", func() { gate.NewSemaphore(math.MaxInt) })
}

// Ports sync_semaphore.rs::blocking_acquire_many and
// blocking_acquire_many_owned: 5 permits, AcquireN(3) from a goroutine leaves 2.
// Also ports sync_semaphore.rs blocking_acquire.
func TestSemaphoreBlockingAcquireMany(t *testing.T) {
	s := gate.NewSemaphore(5)
	watchdog(t)
	p, err := goAcquire(context.Background(), s, 3).wait(t)
	if err != nil {
		t.Fatal(err)
	}
	wantAvailable(t, s, 2)
	p.Release()
	wantAvailable(t, s, 5)
}

// Ports sync_semaphore.rs::blocking_acquire_closed: every acquire variant
// fails on a closed semaphore, permits available or not.
// Also ports semaphore_batch.rs close_semaphore_prevents_acquire.
func TestSemaphoreBlockingAcquireClosed(t *testing.T) {
	s := gate.NewSemaphore(5)
	s.Close()
	for _, n := range []int{1, 2, 5, 6} {
		if _, err := goAcquire(context.Background(), s, n).wait(t); err != gate.ErrClosed {
			t.Errorf("AcquireN(%d) on closed: %v, want ErrClosed", n, err)
		}
	}
	if _, err := s.Acquire(context.Background()); err != gate.ErrClosed {
		t.Errorf("Acquire on closed: %v, want ErrClosed", err)
	}
	if !s.IsClosed() {
		t.Error("IsClosed() = false after Close")
	}
	wantTryErr(t, s, 1, gate.ErrClosed)
	wantAvailable(t, s, 5)
}

// ---------------------------------------------------------------------------
// Ports of tokio/src/sync/tests/semaphore_batch.rs. (release_permits_at_drop
// tests a waker that re-enters the semaphore on drop; Go has no wakers.)

// Ports semaphore_batch.rs::poll_acquire_one_available.
func TestSemaphoreAcquireOneAvailable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := gate.NewSemaphore(100)
		wantAvailable(t, s, 100)
		p, err := s.Acquire(t.Context())
		if err != nil || p.Count() != 1 {
			t.Fatalf("Acquire: %v, count %d", err, p.Count())
		}
		wantAvailable(t, s, 99)
	})
}

// Ports semaphore_batch.rs::poll_acquire_many_available.
func TestSemaphoreAcquireManyAvailable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := gate.NewSemaphore(100)
		for _, want := range []int{95, 90} {
			p, err := s.AcquireN(t.Context(), 5)
			if err != nil || p.Count() != 5 {
				t.Fatalf("AcquireN(5): %v, count %d", err, p.Count())
			}
			wantAvailable(t, s, want)
		}
	})
}

// Ports semaphore_batch.rs::try_acquire_one_available.
func TestSemaphoreTryAcquireOneAvailable(t *testing.T) {
	s := gate.NewSemaphore(100)
	for _, want := range []int{99, 98} {
		if p, err := s.TryAcquire(); err != nil || p.Count() != 1 {
			t.Fatalf("TryAcquire: %v, count %d", err, p.Count())
		}
		wantAvailable(t, s, want)
	}
}

// Ports semaphore_batch.rs::try_acquire_many_available.
func TestSemaphoreTryAcquireManyAvailable(t *testing.T) {
	s := gate.NewSemaphore(100)
	mustTry(t, s, 5)
	wantAvailable(t, s, 95)
	mustTry(t, s, 5)
	wantAvailable(t, s, 90)
}

// Ports semaphore_batch.rs::poll_acquire_one_unavailable.
// Also ports sync_semaphore.rs acquire and sync_semaphore_owned.rs acquire (a
// waiting Acquire completes once the held permit is released).
func TestSemaphoreAcquireOneUnavailable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := gate.NewSemaphore(1)
		p1, err := s.Acquire(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		wantAvailable(t, s, 0)
		w := startWaiter(t, t.Context(), s, 1)
		wantAvailable(t, s, 0)
		p1.Release()
		wantAvailable(t, s, 0) // went to the waiter, not to the count
		synctest.Wait()
		p2 := w.ok(t)
		wantAvailable(t, s, 0)
		p2.Release()
		wantAvailable(t, s, 1)
	})
}

// Ports semaphore_batch.rs::poll_acquire_many_unavailable: with 4 free,
// AcquireN(5) grabs the 4 (leaving 0), AcquireN(3) queues behind it; one
// released permit completes only the 5-waiter, and the 3-waiter needs 1 and
// then 2 more.
func TestSemaphoreAcquireManyUnavailable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := gate.NewSemaphore(5)
		p1, err := s.Acquire(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		wantAvailable(t, s, 4)

		w5 := startWaiter(t, t.Context(), s, 5)
		wantAvailable(t, s, 0)
		wantHeadGrant(t, s, 4)

		w3 := startWaiter(t, t.Context(), s, 3)
		wantAvailable(t, s, 0)

		p1.Release()
		wantAvailable(t, s, 0)
		synctest.Wait()
		p5 := w5.ok(t)
		w3.pending(t)
		wantAvailable(t, s, 0)
		wantWaiters(t, s, 1)
		wantHeadGrant(t, s, 0)

		one, _ := p5.Split(1)
		one.Release()
		synctest.Wait()
		w3.pending(t)
		wantAvailable(t, s, 0)
		wantHeadGrant(t, s, 1)

		two, _ := p5.Split(2)
		two.Release()
		synctest.Wait()
		p3 := w3.ok(t)
		wantWaiters(t, s, 0)
		wantAvailable(t, s, 0)

		p5.Release()
		p3.Release()
		wantAvailable(t, s, 5)
	})
}

// Ports semaphore_batch.rs::try_acquire_one_unavailable.
// Also ports sync_semaphore.rs try_acquire and sync_semaphore_owned.rs try_acquire.
func TestSemaphoreTryAcquireOneUnavailable(t *testing.T) {
	s := gate.NewSemaphore(1)
	p := mustTry(t, s, 1)
	wantAvailable(t, s, 0)
	wantTryErr(t, s, 1, gate.ErrNoPermits)
	p.Release()
	wantAvailable(t, s, 1)
	p = mustTry(t, s, 1)
	p.Release()
	wantAvailable(t, s, 1)
}

// Ports semaphore_batch.rs::try_acquire_many_unavailable.
func TestSemaphoreTryAcquireManyUnavailable(t *testing.T) {
	s := gate.NewSemaphore(5)
	p1 := mustTry(t, s, 1)
	wantAvailable(t, s, 4)
	wantTryErr(t, s, 5, gate.ErrNoPermits)
	wantAvailable(t, s, 4) // a failed TryAcquireN takes nothing
	p1.Release()
	wantAvailable(t, s, 5)
	p5 := mustTry(t, s, 5)
	a, _ := p5.Split(1)
	a.Release()
	wantAvailable(t, s, 1)
	b, _ := p5.Split(1)
	b.Release()
	wantAvailable(t, s, 2)
}

// Ports semaphore_batch.rs::max_permits_doesnt_panic.
// Also ports sync_semaphore.rs no_panic_at_maxpermits (MaxPermits-1 plus 1 is in
// TestSemaphoreAddMoreThanMaxPermitsPanics).
func TestSemaphoreMaxPermitsDoesntPanic(t *testing.T) {
	s := gate.NewSemaphore(gate.MaxPermits)
	wantAvailable(t, s, gate.MaxPermits)
}

// A request for MaxPermits can wait, collect a partial grant of MaxPermits-1,
// give it back on cancel, and complete: no overflow near the limit.
func TestSemaphoreMaxPermitsRequestWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := gate.NewSemaphore(gate.MaxPermits - 1)
		ctx, cancel := context.WithCancel(t.Context())
		w := startWaiter(t, ctx, s, gate.MaxPermits)
		wantHeadGrant(t, s, gate.MaxPermits-1)
		wantAvailable(t, s, 0)
		cancel()
		synctest.Wait()
		w.failed(t, context.Canceled)
		wantAvailable(t, s, gate.MaxPermits-1)

		w = startWaiter(t, t.Context(), s, gate.MaxPermits)
		s.AddPermits(1)
		synctest.Wait()
		p := w.ok(t)
		wantAvailable(t, s, 0)
		p.Release()
		wantAvailable(t, s, gate.MaxPermits)
	})
}

// Ports semaphore_batch.rs::try_acquire_validates_max_permits,
// acquire_validates_max_permits and acquire_validates_top_bit_permits. tokio
// panics; gate's contract is ErrTooMany, at once, without queueing.
func TestSemaphoreRequestAboveMaxPermits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, s := range []*gate.Semaphore{gate.NewSemaphore(0), gate.NewSemaphore(gate.MaxPermits)} {
			for _, n := range []int{gate.MaxPermits + 1, math.MaxInt/2 + 1, math.MaxInt} {
				wantTryErr(t, s, n, gate.ErrTooMany)
				// Called on the bubble's main goroutine: if it waited, the
				// bubble would deadlock and the test fail.
				p, err := s.AcquireN(t.Context(), n)
				if err != gate.ErrTooMany || p.Count() != 0 {
					t.Fatalf("AcquireN(%d): %v, count %d; want ErrTooMany", n, err, p.Count())
				}
				wantWaiters(t, s, 0)
			}
		}
	})
}

// Ports semaphore_batch.rs::close_semaphore_notifies_permit2: Close wakes
// every waiter with ErrClosed; held permits still go back afterwards.
// Also ports semaphore_batch.rs close_semaphore_notifies_permit1.
func TestSemaphoreCloseNotifiesWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := gate.NewSemaphore(2)
		p1, err1 := s.Acquire(t.Context())
		p2, err2 := s.Acquire(t.Context())
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		w3 := startWaiter(t, t.Context(), s, 1)
		w4 := startWaiter(t, t.Context(), s, 1)
		s.Close()
		synctest.Wait()
		w3.failed(t, gate.ErrClosed)
		w4.failed(t, gate.ErrClosed)
		wantWaiters(t, s, 0)
		wantAvailable(t, s, 0)
		p1.Release()
		wantAvailable(t, s, 1)
		if _, err := s.Acquire(t.Context()); err != gate.ErrClosed {
			t.Fatalf("Acquire after Close: %v, want ErrClosed", err)
		}
		p2.Release()
		wantAvailable(t, s, 2)
	})
}

// Ports semaphore_batch.rs::cancel_acquire_releases_permits: a cancelled
// AcquireN(8) that had collected 6 permits gives the 6 back.
func TestSemaphoreCancelReleasesPartialGrant(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := gate.NewSemaphore(10)
		mustTry(t, s, 4)
		wantAvailable(t, s, 6)
		ctx, cancel := context.WithCancel(t.Context())
		w := startWaiter(t, ctx, s, 8)
		wantAvailable(t, s, 0)
		wantHeadGrant(t, s, 6)
		cancel()
		synctest.Wait()
		w.failed(t, context.Canceled)
		wantWaiters(t, s, 0)
		wantAvailable(t, s, 6)
		mustTry(t, s, 6)
	})
}

// Ports semaphore_batch.rs::forget_permits_basic.
func TestSemaphoreForgetPermitsBasic(t *testing.T) {
	s := gate.NewSemaphore(10)
	if got := s.ForgetPermits(4); got != 4 {
		t.Fatalf("ForgetPermits(4) = %d, want 4", got)
	}
	wantAvailable(t, s, 6)
	if got := s.ForgetPermits(10); got != 6 {
		t.Fatalf("ForgetPermits(10) = %d, want 6", got)
	}
	wantAvailable(t, s, 0)
	if got := s.ForgetPermits(1); got != 0 {
		t.Fatalf("ForgetPermits(1) on empty = %d, want 0", got)
	}
}

// Ports semaphore_batch.rs::update_permits_many_times: AcquireN(7) on 5
// collects them, completes when 5 more come, and leaves 3.
func TestSemaphoreUpdatePermitsManyTimes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := gate.NewSemaphore(5)
		w := startWaiter(t, t.Context(), s, 7)
		wantHeadGrant(t, s, 5)
		s.AddPermits(5)
		synctest.Wait()
		w.ok(t)
		wantAvailable(t, s, 3)
		if got := s.ForgetPermits(3); got != 3 {
			t.Fatalf("ForgetPermits(3) = %d, want 3", got)
		}
		wantAvailable(t, s, 0)
	})
}

// ---------------------------------------------------------------------------
// The rules of API.md for Semaphore and Permit.

// Waiters are served in the order they started waiting.
func TestSemaphoreFIFO(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := gate.NewSemaphore(0)
		var ws []*async[*gate.Permit]
		for range 5 {
			ws = append(ws, startWaiter(t, t.Context(), s, 1))
		}
		for i := range ws {
			s.AddPermits(1)
			synctest.Wait()
			ws[i].ok(t)
			for _, w := range ws[i+1:] {
				w.pending(t)
			}
			wantWaiters(t, s, len(ws)-i-1)
			wantAvailable(t, s, 0)
		}
	})
}

// FIFO by request: permits go to the oldest waiter first, whatever the sizes
// of the requests behind it, and each batch completes a prefix of the queue.
func TestSemaphoreFIFOMixedRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := gate.NewSemaphore(0)
		wA := startWaiter(t, t.Context(), s, 3)
		wB := startWaiter(t, t.Context(), s, 1)
		wC := startWaiter(t, t.Context(), s, 2)
		wD := startWaiter(t, t.Context(), s, 1)

		s.AddPermits(1) // to A, which still needs 2
		synctest.Wait()
		wA.pending(t)
		wB.pending(t)
		wantHeadGrant(t, s, 1)

		s.AddPermits(2) // completes A only
		synctest.Wait()
		wA.ok(t)
		wB.pending(t)
		wantHeadGrant(t, s, 0)
		wantWaiters(t, s, 3)

		s.AddPermits(3) // completes B and C; D gets nothing
		synctest.Wait()
		wB.ok(t)
		wC.ok(t)
		wD.pending(t)
		wantHeadGrant(t, s, 0)
		wantAvailable(t, s, 0)

		s.AddPermits(2) // completes D; 1 left over
		synctest.Wait()
		wD.ok(t)
		wantWaiters(t, s, 0)
		wantAvailable(t, s, 1)
	})
}

// No barging: a permit released while a goroutine waits goes to it, not to a
// TryAcquire (or Acquire) that comes right after the release.
func TestSemaphoreNoBarging(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := gate.NewSemaphore(1)
		p := mustTry(t, s, 1)
		w := startWaiter(t, t.Context(), s, 1)
		p.Release()
		// The waiter has not even run yet.
		wantTryErr(t, s, 1, gate.ErrNoPermits)
		newcomer := goAcquire(t.Context(), s, 1)
		synctest.Wait()
		pw := w.ok(t)
		newcomer.pending(t)
		wantWaiters(t, s, 1)

		pw.Release()
		synctest.Wait()
		newcomer.ok(t)
		wantAvailable(t, s, 0)
	})
}

// No barging with a partial grant: while the head still needs permits, a
// release feeds the head and TryAcquire of what was released fails.
func TestSemaphoreNoBargingPartialGrant(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := gate.NewSemaphore(3)
		held := mustTry(t, s, 3)
		w := startWaiter(t, t.Context(), s, 2)
		one, _ := held.Split(1)
		one.Release()
		wantTryErr(t, s, 1, gate.ErrNoPermits)
		wantAvailable(t, s, 0)
		synctest.Wait()
		w.pending(t)
		wantHeadGrant(t, s, 1)
		wantTryErr(t, s, 1, gate.ErrNoPermits)

		held.Release() // 2 more: 1 completes w, 1 is left over
		synctest.Wait()
		w.ok(t)
		wantAvailable(t, s, 1)
	})
}

// A large request at the head blocks smaller ones behind it even when there
// are enough permits for them: no starvation of large requests.
func TestSemaphoreLargeHeadBlocksSmaller(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := gate.NewSemaphore(4)
		held := mustTry(t, s, 4)
		wBig := startWaiter(t, t.Context(), s, 3)
		wSmall := startWaiter(t, t.Context(), s, 1)

		two, _ := held.Split(2)
		two.Release()
		synctest.Wait()
		wBig.pending(t)
		wSmall.pending(t) // 2 permits were returned, but the head is first
		wantHeadGrant(t, s, 2)
		wantAvailable(t, s, 0)

		one, _ := held.Split(1)
		one.Release()
		synctest.Wait()
		pBig := wBig.ok(t)
		wSmall.pending(t)

		held.Release()
		synctest.Wait()
		pSmall := wSmall.ok(t)
		wantAvailable(t, s, 0)
		pBig.Release()
		pSmall.Release()
		wantAvailable(t, s, 4)
	})
}

// A newcomer whose small request would fit queues behind a waiting large
// request instead of taking the permits.
func TestSemaphoreNewcomerQueuesBehindLargeRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := gate.NewSemaphore(2)
		wBig := startWaiter(t, t.Context(), s, 5) // takes the 2 as a partial grant
		wantHeadGrant(t, s, 2)
		wantAvailable(t, s, 0)
		wantTryErr(t, s, 1, gate.ErrNoPermits)
		wSmall := startWaiter(t, t.Context(), s, 1)
		s.AddPermits(4)
		synctest.Wait()
		wBig.ok(t)
		wSmall.ok(t)
		wantAvailable(t, s, 0)
	})
}

// A done ctx fails the call even when it could complete at once (API.md,
// Context), as in x/sync/semaphore: it returns ctx.Err() and takes nothing,
// and it is reported before ErrClosed and ErrTooMany. AcquireN(0) too.
func TestSemaphoreDoneCtxFailsEvenWhenFree(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		expired, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
		defer cancel()
		for _, ctx := range []context.Context{doneCtx(t.Context()), expired} {
			s := gate.NewSemaphore(3)
			for _, n := range []int{0, 1, 2, 3, gate.MaxPermits + 1} {
				p, err := s.AcquireN(ctx, n)
				if err != ctx.Err() || p.Count() != 0 {
					t.Fatalf("AcquireN(done ctx, %d) with 3 free: %v, count %d; want %v", n, err, p.Count(), ctx.Err())
				}
			}
			if p, err := s.Acquire(ctx); err != ctx.Err() || p.Count() != 0 {
				t.Fatalf("Acquire(done ctx) with 3 free: %v, count %d; want %v", err, p.Count(), ctx.Err())
			}
			wantAvailable(t, s, 3)
			wantWaiters(t, s, 0)
			s.Close()
			for _, n := range []int{0, 1, gate.MaxPermits + 1} {
				if p, err := s.AcquireN(ctx, n); err != ctx.Err() || p.Count() != 0 {
					t.Fatalf("AcquireN(done ctx, %d) on closed: %v, count %d; want %v first", n, err, p.Count(), ctx.Err())
				}
			}
		}
	})
}

// A call that would have to wait with a done ctx returns ctx.Err() at once
// and has no effect: no partial grant taken, no place in the queue.
func TestSemaphoreDoneCtxWouldWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		expired, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
		defer cancel()
		for _, tc := range []struct {
			ctx  context.Context
			want error
		}{
			{doneCtx(t.Context()), context.Canceled},
			{expired, context.DeadlineExceeded},
		} {
			s := gate.NewSemaphore(2)
			p, err := s.AcquireN(tc.ctx, 3) // would take 2 as a partial grant
			if err != tc.want || p.Count() != 0 {
				t.Fatalf("AcquireN(3) of 2 with done ctx: %v, count %d; want %v", err, p.Count(), tc.want)
			}
			wantAvailable(t, s, 2)
			wantWaiters(t, s, 0)

			// Behind a queue, even a request that fits must wait.
			w := startWaiter(t, t.Context(), s, 3)
			if p, err := s.Acquire(tc.ctx); err != tc.want || p.Count() != 0 {
				t.Fatalf("Acquire behind a queue with done ctx: %v, count %d; want %v", err, p.Count(), tc.want)
			}
			wantWaiters(t, s, 1)
			wantHeadGrant(t, s, 2)
			s.AddPermits(1)
			synctest.Wait()
			w.ok(t)
		}
	})
}

// A waiting call whose ctx ends returns ctx.Err() itself (== and errors.Is),
// holds nothing, and leaves the queue; the waiters around it keep their order.
func TestSemaphoreCancelWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := gate.NewSemaphore(0)
		w1 := startWaiter(t, t.Context(), s, 1)
		ctx2, cancel2 := context.WithCancelCause(t.Context())
		w2 := startWaiter(t, ctx2, s, 1)
		w3 := startWaiter(t, t.Context(), s, 1)

		cancel2(errors.New("some cause"))
		synctest.Wait()
		w2.failed(t, context.Canceled) // ctx.Err(), not the cause
		w1.pending(t)
		w3.pending(t)
		wantWaiters(t, s, 2)
		wantAvailable(t, s, 0)

		s.AddPermits(1)
		synctest.Wait()
		w1.ok(t)
		w3.pending(t)
		s.AddPermits(1)
		synctest.Wait()
		w3.ok(t)
		wantWaiters(t, s, 0)
		wantAvailable(t, s, 0)
	})
}

// A cancelled head waiter's partial grant goes to the next waiters in FIFO
// order, the first one that cannot be filled keeping the rest.
func TestSemaphoreCancelPassesPartialGrant(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := gate.NewSemaphore(10)
		held := mustTry(t, s, 4)
		ctx1, cancel1 := context.WithCancel(t.Context())
		w1 := startWaiter(t, ctx1, s, 8) // collects 6
		w2 := startWaiter(t, t.Context(), s, 5)
		w3 := startWaiter(t, t.Context(), s, 2)
		wantHeadGrant(t, s, 6)

		cancel1()
		synctest.Wait()
		w1.failed(t, context.Canceled)
		p2 := w2.ok(t)
		w3.pending(t)
		wantHeadGrant(t, s, 1)
		wantAvailable(t, s, 0)
		wantWaiters(t, s, 1)

		held.Release() // 1 completes w3, 3 left
		synctest.Wait()
		p3 := w3.ok(t)
		wantAvailable(t, s, 3)
		p2.Release()
		p3.Release()
		wantAvailable(t, s, 10)
	})
}

// A context deadline fires on the bubble's clock, exactly: a 1-hour timeout
// returns context.DeadlineExceeded after exactly 1 hour, not before, and the
// waiter's partial grant goes back.
func TestSemaphoreDeadlineExact(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := gate.NewSemaphore(2)
		start := time.Now()
		ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
		defer cancel()
		type timed struct {
			err     error
			elapsed time.Duration
		}
		done := make(chan timed, 1)
		go func() {
			p, err := s.AcquireN(ctx, 3)
			if p.Count() != 0 {
				err = fmt.Errorf("failed AcquireN holds %d permits", p.Count())
			}
			done <- timed{err, time.Since(start)}
		}()
		synctest.Wait()
		wantWaiters(t, s, 1)
		wantHeadGrant(t, s, 2)

		<-time.After(time.Hour - time.Nanosecond)
		synctest.Wait()
		select {
		case r := <-done:
			t.Fatalf("AcquireN returned %v after %v, before its 1h deadline", r.err, r.elapsed)
		default:
		}

		r := <-done
		if r.err != context.DeadlineExceeded || !errors.Is(r.err, context.DeadlineExceeded) {
			t.Fatalf("AcquireN: %v, want context.DeadlineExceeded", r.err)
		}
		if r.elapsed != time.Hour {
			t.Fatalf("deadline fired after %v, want exactly %v", r.elapsed, time.Hour)
		}
		wantWaiters(t, s, 0)
		wantAvailable(t, s, 2)
	})
}

// A waiter with a deadline that is granted before it fires succeeds, and the
// later deadline has no effect.
func TestSemaphoreDeadlineGrantedBefore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := gate.NewSemaphore(0)
		ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
		defer cancel()
		w := startWaiter(t, ctx, s, 2)
		<-time.After(30 * time.Minute)
		s.AddPermits(2)
		synctest.Wait()
		p := w.ok(t)
		<-time.After(time.Hour)
		synctest.Wait()
		wantAvailable(t, s, 0)
		p.Release()
		wantAvailable(t, s, 2)
	})
}

// AcquireN(0) and TryAcquireN(0) succeed at once, even behind a queue, unless
// the semaphore is closed.
func TestSemaphoreAcquireZero(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := gate.NewSemaphore(0)
		w := startWaiter(t, t.Context(), s, 1)
		p, err := s.AcquireN(t.Context(), 0)
		if err != nil || p.Count() != 0 {
			t.Fatalf("AcquireN(0) behind a queue: %v, count %d", err, p.Count())
		}
		p.Release()
		if p, err := s.TryAcquireN(0); err != nil || p.Count() != 0 {
			t.Fatalf("TryAcquireN(0) behind a queue: %v, count %d", err, p.Count())
		}
		wantWaiters(t, s, 1)

		s.Close()
		synctest.Wait()
		w.failed(t, gate.ErrClosed)
		if p, err := s.AcquireN(t.Context(), 0); err != gate.ErrClosed || p.Count() != 0 {
			t.Fatalf("AcquireN(0) on closed: %v, count %d; want ErrClosed", err, p.Count())
		}
		wantTryErr(t, s, 0, gate.ErrClosed)
	})
}

// TryAcquireN reports ErrTooMany first, then ErrClosed, then ErrNoPermits
// (API.md, Error order), and takes nothing on error; AcquireN the same after
// a done ctx.
func TestSemaphoreTryAcquireNErrorOrder(t *testing.T) {
	s := gate.NewSemaphore(1)
	wantTryErr(t, s, gate.MaxPermits+1, gate.ErrTooMany)
	wantTryErr(t, s, math.MaxInt, gate.ErrTooMany)
	wantTryErr(t, s, gate.MaxPermits, gate.ErrNoPermits)
	wantTryErr(t, s, 2, gate.ErrNoPermits)
	wantAvailable(t, s, 1)

	s.Close()
	wantTryErr(t, s, gate.MaxPermits+1, gate.ErrTooMany)
	wantTryErr(t, s, math.MaxInt, gate.ErrTooMany)
	if _, err := s.AcquireN(context.Background(), gate.MaxPermits+1); err != gate.ErrTooMany {
		t.Fatalf("AcquireN(MaxPermits+1) on closed: %v, want ErrTooMany", err)
	}
	wantTryErr(t, s, 2, gate.ErrClosed)
	wantTryErr(t, s, 1, gate.ErrClosed) // even with the permit available
	wantTryErr(t, s, 0, gate.ErrClosed)
	if _, err := s.TryAcquire(); err != gate.ErrClosed {
		t.Fatalf("TryAcquire on closed: %v, want ErrClosed", err)
	}
	wantAvailable(t, s, 1)
}

// ForgetPermits takes only available permits: with a queue it removes nothing
// and leaves the head's partial grant alone.
func TestSemaphoreForgetPermitsWithWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := gate.NewSemaphore(2)
		w := startWaiter(t, t.Context(), s, 3)
		if got := s.ForgetPermits(5); got != 0 {
			t.Fatalf("ForgetPermits(5) with a queue = %d, want 0", got)
		}
		wantHeadGrant(t, s, 2)
		s.AddPermits(1)
		synctest.Wait()
		p := w.ok(t)
		p.Release()
		wantAvailable(t, s, 3)
		if got := s.ForgetPermits(0); got != 0 {
			t.Fatalf("ForgetPermits(0) = %d, want 0", got)
		}
		wantAvailable(t, s, 3)
	})
}

// Close wakes every waiter with ErrClosed and returns the head's partial
// grant to the count; later acquires fail; Close is idempotent.
func TestSemaphoreCloseReturnsPartialGrants(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := gate.NewSemaphore(5)
		held := mustTry(t, s, 1)
		w5 := startWaiter(t, t.Context(), s, 5) // collects 4
		w3 := startWaiter(t, t.Context(), s, 3)
		w1 := startWaiter(t, t.Context(), s, 1)
		wantHeadGrant(t, s, 4)
		wantAvailable(t, s, 0)

		s.Close()
		synctest.Wait()
		w5.failed(t, gate.ErrClosed)
		w3.failed(t, gate.ErrClosed)
		w1.failed(t, gate.ErrClosed)
		wantWaiters(t, s, 0)
		wantAvailable(t, s, 4)
		if p, err := s.Acquire(t.Context()); err != gate.ErrClosed || p.Count() != 0 {
			t.Fatalf("Acquire after Close: %v, count %d; want ErrClosed", err, p.Count())
		}
		wantAvailable(t, s, 4)

		s.Close()
		if !s.IsClosed() {
			t.Fatal("not closed after second Close")
		}
		wantAvailable(t, s, 4)
		held.Release()
		wantAvailable(t, s, 5)
	})
}

// Permits held at Close may be released afterwards; they go back to the count
// and the semaphore stays closed.
func TestSemaphoreReleaseAfterClose(t *testing.T) {
	s := gate.NewSemaphore(3)
	p := mustTry(t, s, 2)
	s.Close()
	wantAvailable(t, s, 1)
	a, _ := p.Split(1)
	a.Release()
	wantAvailable(t, s, 2)
	p.Release()
	wantAvailable(t, s, 3)
	if !s.IsClosed() {
		t.Fatal("Release reopened the semaphore")
	}
	wantTryErr(t, s, 1, gate.ErrClosed)
}

// The zero Semaphore is open, has 0 permits and works.
func TestSemaphoreZeroValue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var s gate.Semaphore
		wantAvailable(t, &s, 0)
		if s.IsClosed() {
			t.Fatal("zero Semaphore is closed")
		}
		wantTryErr(t, &s, 1, gate.ErrNoPermits)
		if p, err := s.TryAcquireN(0); err != nil || p.Count() != 0 {
			t.Fatalf("TryAcquireN(0): %v, count %d", err, p.Count())
		}
		w := startWaiter(t, t.Context(), &s, 1)
		s.AddPermits(2)
		synctest.Wait()
		p := w.ok(t)
		wantAvailable(t, &s, 1)
		p.Release()
		wantAvailable(t, &s, 2)
		if got := s.ForgetPermits(1); got != 1 {
			t.Fatalf("ForgetPermits(1) = %d", got)
		}
		s.Close()
		wantTryErr(t, &s, 1, gate.ErrClosed)
		wantAvailable(t, &s, 1)
	})
}

// Release returns the permits once: a second Release of the same variable
// does nothing, and Count is 0 afterwards. The zero Permit's Release does
// nothing.
func TestSemaphorePermitReleaseIdempotent(t *testing.T) {
	s := gate.NewSemaphore(3)
	p := mustTry(t, s, 2)
	if p.Count() != 2 {
		t.Fatalf("Count() = %d, want 2", p.Count())
	}
	p.Release()
	if p.Count() != 0 {
		t.Fatalf("Count() after Release = %d, want 0", p.Count())
	}
	wantAvailable(t, s, 3)
	p.Release()
	wantAvailable(t, s, 3)

	var zero gate.Permit
	if zero.Count() != 0 {
		t.Fatalf("zero Permit Count() = %d", zero.Count())
	}
	zero.Release()
	zero.Forget()
	if p, ok := zero.Split(0); !ok || p.Count() != 0 {
		t.Fatalf("zero Permit Split(0): %v, %d", ok, p.Count())
	}
	if _, ok := zero.Split(1); ok {
		t.Fatal("zero Permit Split(1) succeeded")
	}
}

// Forget drops the permits for good: the capacity shrinks by Count, Release
// afterwards returns nothing.
// Also ports sync_semaphore.rs forget and sync_semaphore_owned.rs forget.
func TestSemaphorePermitForgetShrinks(t *testing.T) {
	s := gate.NewSemaphore(5)
	p := mustTry(t, s, 3)
	p.Forget()
	p.Release()
	wantAvailable(t, s, 2)
	q := mustTry(t, s, 2)
	q.Release()
	wantAvailable(t, s, 2)
}

// Merge with zero Permits: a zero Permit takes on the other's semaphore;
// merging a zero Permit changes nothing.
func TestSemaphorePermitMergeZero(t *testing.T) {
	s := gate.NewSemaphore(4)
	p := mustTry(t, s, 3)
	var zero gate.Permit
	p.Merge(&zero)
	if p.Count() != 3 || zero.Count() != 0 {
		t.Fatalf("Merge(zero): counts %d, %d; want 3, 0", p.Count(), zero.Count())
	}
	var z gate.Permit
	z.Merge(p)
	if z.Count() != 3 || p.Count() != 0 {
		t.Fatalf("zero.Merge(p): counts %d, %d; want 3, 0", z.Count(), p.Count())
	}
	wantAvailable(t, s, 1)
	z.Release()
	wantAvailable(t, s, 4)
	p.Release()
	wantAvailable(t, s, 4)

	// A Permit that got its semaphore from a Merge still refuses another one.
	other := gate.NewSemaphore(1)
	q := mustTry(t, other, 1)
	var z2 gate.Permit
	r := mustTry(t, s, 1)
	z2.Merge(r)
	mustPanic(t, "Merge into a merged zero Permit from another semaphore", func() { z2.Merge(q) })
}

// Every negative count panics with a message starting with "gate: ", and the
// semaphore is unchanged.
func TestSemaphoreNegativeCountsPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := gate.NewSemaphore(2)
		p := mustTry(t, s, 1)
		var zero gate.Permit
		closed := gate.NewSemaphore(1)
		closed.Close()
		ctx := t.Context()
		for _, tc := range []struct {
			what string
			f    func()
		}{
			{"NewSemaphore(-1)", func() { gate.NewSemaphore(-1) }},
			{"NewSemaphore(math.MinInt)", func() { gate.NewSemaphore(math.MinInt) }},
			{"NewSemaphore(MaxPermits+1)", func() { gate.NewSemaphore(gate.MaxPermits + 1) }},
			{"AcquireN(-1)", func() { s.AcquireN(ctx, -1) }},
			{"AcquireN(math.MinInt)", func() { s.AcquireN(ctx, math.MinInt) }},
			{"AcquireN(-1) with done ctx", func() { s.AcquireN(doneCtx(ctx), -1) }},
			{"AcquireN(-1) on closed", func() { closed.AcquireN(ctx, -1) }},
			{"TryAcquireN(-1)", func() { s.TryAcquireN(-1) }},
			{"TryAcquireN(-1) on closed", func() { closed.TryAcquireN(-1) }},
			{"AddPermits(-1)", func() { s.AddPermits(-1) }},
			{"ForgetPermits(-1)", func() { s.ForgetPermits(-1) }},
			{"Permit.Split(-1)", func() { p.Split(-1) }},
			{"zero Permit.Split(-1)", func() { zero.Split(-1) }},
		} {
			mustPanic(t, tc.what, tc.f)
		}
		wantAvailable(t, s, 1)
		wantWaiters(t, s, 0)
		if p.Count() != 1 {
			t.Fatalf("Split(-1) changed the permit: Count() = %d", p.Count())
		}
		wantAvailable(t, closed, 1)
	})
}

// A waiter granted its permits at the moment its ctx ends loses nothing:
// either it returns with the permits, or it returns ctx.Err() and the permits
// go to the next waiter or back to the count.
func TestSemaphoreGrantedWhileCancelled(t *testing.T) {
	outcomes := map[string]int{}
	for i := range 400 {
		// w1 asks for need permits and holds need-1 of them as a partial
		// grant when the last one and the cancellation race.
		need := 1 + i%3
		synctest.Test(t, func(t *testing.T) {
			s := gate.NewSemaphore(need - 1)
			ctx1, cancel1 := context.WithCancel(t.Context())
			w1 := startWaiter(t, ctx1, s, need)
			w2 := startWaiter(t, t.Context(), s, 1)
			wantHeadGrant(t, s, need-1)

			start := make(chan struct{})
			var wg sync.WaitGroup
			if i%2 == 0 {
				wg.Go(func() { <-start; cancel1() })
				wg.Go(func() { <-start; s.AddPermits(1) })
			} else {
				wg.Go(func() { <-start; s.AddPermits(1) })
				wg.Go(func() { <-start; cancel1() })
			}
			close(start)
			wg.Wait()
			synctest.Wait()

			p1, err1 := w1.returned(t)
			switch err1 {
			case nil:
				outcomes["granted"]++
				w2.pending(t)
				wantWaiters(t, s, 1)
				wantAvailable(t, s, 0)
				p1.Release()
				synctest.Wait()
				p2 := w2.ok(t)
				p2.Release()
			case context.Canceled:
				outcomes["cancelled"]++
				// Its need permits went on: 1 to w2, the rest to the count.
				p2 := w2.ok(t)
				wantWaiters(t, s, 0)
				wantAvailable(t, s, need-1)
				p2.Release()
			default:
				t.Fatalf("w1: unexpected error %v", err1)
			}
			wantWaiters(t, s, 0)
			wantAvailable(t, s, need)
		})
	}
	t.Logf("outcomes: %v", outcomes)
}

// Cancel and Close at the same moment: the waiter fails with one of the two
// errors, holds nothing, and its partial grant is back in the count.
func TestSemaphoreCancelledWhileClosed(t *testing.T) {
	for i := range 200 {
		synctest.Test(t, func(t *testing.T) {
			s := gate.NewSemaphore(2)
			ctx1, cancel1 := context.WithCancel(t.Context())
			w1 := startWaiter(t, ctx1, s, 3)
			w2 := startWaiter(t, t.Context(), s, 1)
			start := make(chan struct{})
			var wg sync.WaitGroup
			if i%2 == 0 {
				wg.Go(func() { <-start; cancel1() })
				wg.Go(func() { <-start; s.Close() })
			} else {
				wg.Go(func() { <-start; s.Close() })
				wg.Go(func() { <-start; cancel1() })
			}
			close(start)
			wg.Wait()
			synctest.Wait()
			if _, err1 := w1.returned(t); err1 != context.Canceled && err1 != gate.ErrClosed {
				t.Fatalf("w1: %v; want context.Canceled or ErrClosed", err1)
			}
			// w2 may have received w1's grant if the cancel came first.
			p2, err2 := w2.returned(t)
			held := 0
			if err2 == nil {
				held = p2.Count()
			} else if err2 != gate.ErrClosed {
				t.Fatalf("w2: %v", err2)
			}
			wantAvailable(t, s, 2-held)
			wantWaiters(t, s, 0)
		})
	}
}

// TestSemaphoreCancelledBeforeGrant is x/sync's test for go.dev/issue/63615,
// ported: a waiter whose ctx ends before permits come back returns ctx.Err()
// and holds nothing, and the permits stay for the next caller; a later grant
// never makes a cancelled waiter succeed. With a second waiter behind it, the
// grant goes on to that one.
func TestSemaphoreCancelledBeforeGrant(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := gate.NewSemaphore(0)
		ctx, cancel := context.WithCancel(t.Context())
		w := startWaiter(t, ctx, s, 1)
		cancel()
		s.AddPermits(1) // before the waiter's goroutine has run again
		synctest.Wait()
		w.failed(t, context.Canceled)
		wantWaiters(t, s, 0)
		wantAvailable(t, s, 1)
	})
	synctest.Test(t, func(t *testing.T) {
		s := gate.NewSemaphore(1)
		ctx, cancel := context.WithCancel(t.Context())
		w1 := startWaiter(t, ctx, s, 2) // holds 1 as a partial grant
		w2 := startWaiter(t, t.Context(), s, 2)
		wantHeadGrant(t, s, 1)
		cancel()
		s.AddPermits(1) // w1's partial grant and this permit go to w2
		synctest.Wait()
		w1.failed(t, context.Canceled)
		p := w2.ok(t)
		if p.Count() != 2 {
			t.Fatalf("w2 holds %d permits, want 2", p.Count())
		}
		wantAvailable(t, s, 0)
		p.Release()
		wantAvailable(t, s, 2)
	})
}

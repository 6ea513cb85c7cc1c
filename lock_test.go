package gate_test

// Tests of Mutex and RWMutex: ports of tokio's tests/sync_mutex.rs,
// tests/sync_mutex_owned.rs and tests/sync_rwlock.rs, then one test per rule
// of API.md ("Rules that hold for every primitive" and lock.go).
//
// Every "still blocked" / "woke up" assertion runs inside a testing/synctest
// bubble: start the goroutine, synctest.Wait(), and it is either finished or
// durably parked, so the async checks of helpers_test.go (pending, ok,
// failed) and the MutexWaiters / RWMutexWaiters hooks are exact. Waiting calls use
// t.Context() (or a context derived from it), so that a failing test never
// leaves a goroutine parked: the bubble cancels t.Context() when the test ends.
//
// tokio tests with no Go equivalent (N rows of tokio-sync.md §3.7):
//   - sync_mutex.rs lock: commented out / #[ignore] in tokio.
//   - sync_mutex.rs and sync_mutex_owned.rs debug_format, sync_mutex.rs
//     mutex_debug: Rust Debug formatting; Mutex has no String method.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gophergate/gate"
)

// ---------------------------------------------------------------------------
// Helpers for the lock families, on top of helpers_test.go.

// goLock calls lock(ctx) in a new goroutine (see async). The goroutine never
// unlocks: the test does it on the holder's behalf (a lock is not tied to a
// goroutine). A call that returns a pointer with an error, or no pointer
// without one, returns an error that no check accepts.
func goLock[T any](what string, ctx context.Context, lock func(context.Context) (*T, error)) *async[*T] {
	return goCall(what, func() (*T, error) {
		p, err := lock(ctx)
		if (p == nil) == (err == nil) {
			return p, fmt.Errorf("returned (%p, %v): want a pointer or an error", p, err)
		}
		return p, err
	})
}

func lockWantWaiters[T any](t *testing.T, m *gate.Mutex[T], want int) {
	t.Helper()
	if got := gate.MutexWaiters(m); got != want {
		t.Fatalf("MutexWaiters = %d, want %d", got, want)
	}
}

func lockWantLocked[T any](t *testing.T, m *gate.Mutex[T], want bool) {
	t.Helper()
	if got := gate.MutexLocked(m); got != want {
		t.Fatalf("MutexLocked = %v, want %v", got, want)
	}
}

func lockWantRWWaiters[T any](t *testing.T, rw *gate.RWMutex[T], want int) {
	t.Helper()
	if got := gate.RWMutexWaiters(rw); got != want {
		t.Fatalf("RWMutexWaiters = %d, want %d", got, want)
	}
}

func lockWantAvailable[T any](t *testing.T, rw *gate.RWMutex[T], want int) {
	t.Helper()
	if got := gate.RWMutexAvailable(rw); got != want {
		t.Fatalf("RWMutexAvailable = %d, want %d", got, want)
	}
}

// ---------------------------------------------------------------------------
// Ports of tokio tests/sync_mutex.rs and tests/sync_mutex_owned.rs. The owned
// variants (lock_owned, try_lock_owned) map to the same Go calls, so each Go
// test covers both files.

// tokio: sync_mutex.rs aborted_future_1, sync_mutex_owned.rs aborted_future_1:
// a task that holds the lock and is aborted by a 1 ms timeout releases it.
func TestMutexAbortedFuture1(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := gate.NewMutex(0)
		ctx, cancel := context.WithTimeout(t.Context(), time.Millisecond)
		defer cancel()
		done := make(chan struct{})
		go func() {
			defer close(done)
			if _, err := m.Lock(ctx); err != nil {
				t.Errorf("Lock = %v, want the lock", err)
				return
			}
			defer m.Unlock() // the guard is dropped with the aborted future
			iv := time.NewTicker(time.Second)
			defer iv.Stop()
			select {
			case <-iv.C:
				t.Error("the 1 ms timeout did not abort the task before its 1 s tick")
			case <-ctx.Done():
			}
		}()
		<-done
		lockWantLocked(t, m, false)
		// This succeeds within 1 ms: no lock is left on the mutex.
		ctx2, cancel2 := context.WithTimeout(t.Context(), time.Millisecond)
		defer cancel2()
		if _, err := m.Lock(ctx2); err != nil {
			t.Fatalf("Lock after the abort = %v: the mutex is still locked", err)
		}
		m.Unlock()
	})
}

// tokio: sync_mutex.rs try_lock, sync_mutex_owned.rs try_lock_owned.
func TestMutexTryLock(t *testing.T) {
	m := gate.NewMutex(0)
	if p, ok := m.TryLock(); !ok || p == nil {
		t.Fatalf("first TryLock = (%p, %v), want the lock", p, ok)
	}
	if p, ok := m.TryLock(); ok || p != nil {
		t.Fatalf("TryLock while held = (%p, %v), want (nil, false)", p, ok)
	}
	m.Unlock()
	if p, ok := m.TryLock(); !ok || p == nil {
		t.Fatalf("TryLock after Unlock = (%p, %v), want the lock", p, ok)
	}
	m.Unlock()
}

// ---------------------------------------------------------------------------
// Mutex: the rules of API.md.

// Lock order is the order in which the goroutines started waiting.
func TestMutexFIFOHandoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := gate.NewMutex([]int(nil))
		if _, err := m.Lock(t.Context()); err != nil {
			t.Fatal(err)
		}
		const n = 6
		done := make(chan struct{}, n)
		for i := range n {
			go func() {
				defer func() { done <- struct{}{} }()
				p, err := m.Lock(t.Context())
				if err != nil {
					t.Errorf("waiter %d: Lock = %v", i, err)
					return
				}
				*p = append(*p, i)
				m.Unlock()
			}()
			synctest.Wait() // waiter i is queued before waiter i+1 starts
			lockWantWaiters(t, m, i+1)
		}
		m.Unlock()
		for range n {
			<-done
		}
		p, ok := m.TryLock()
		if !ok {
			t.Fatal("TryLock after every waiter left failed")
		}
		if want := []int{0, 1, 2, 3, 4, 5}; !slices.Equal(*p, want) {
			t.Fatalf("lock order = %v, want %v", *p, want)
		}
		m.Unlock()
	})
}

// Unlock with waiters queued hands the lock to the oldest one: a TryLock or
// Lock that comes right after does not get it, and a newcomer's Lock queues
// behind.
func TestMutexNoBargingAfterUnlock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := gate.NewMutex(0)
		if _, err := m.Lock(t.Context()); err != nil {
			t.Fatal(err)
		}
		a := goLock("a Lock", t.Context(), m.Lock)
		synctest.Wait()
		lockWantWaiters(t, m, 1)
		m.Unlock()
		// a has not necessarily run yet, but the lock is already its own.
		if p, ok := m.TryLock(); ok || p != nil {
			t.Fatalf("TryLock right after Unlock = (%p, %v): it took the lock from the queued waiter", p, ok)
		}
		if p, err := m.Lock(doneCtx(t.Context())); err != context.Canceled || p != nil {
			t.Fatalf("Lock(cancelled ctx) right after Unlock = (%p, %v), want (nil, context.Canceled): it must have had to wait", p, err)
		}
		b := goLock("b Lock", t.Context(), m.Lock)
		synctest.Wait()
		pa := a.ok(t)
		b.pending(t) // newcomer
		lockWantWaiters(t, m, 1)
		*pa = 1
		m.Unlock()
		synctest.Wait()
		if pb := b.ok(t); *pb != 1 {
			t.Fatalf("newcomer sees %d, want 1", *pb)
		}
		m.Unlock()
		lockWantLocked(t, m, false)
	})
}

// A done ctx fails Lock even when the mutex is free (API.md, Context): it
// returns (nil, ctx.Err()) and leaves the mutex unlocked.
func TestMutexLockDoneCtxFailsEvenWhenFree(t *testing.T) {
	m := gate.NewMutex(7)
	expired, cancel := context.WithDeadline(t.Context(), time.Unix(0, 0))
	defer cancel()
	for _, ctx := range []context.Context{doneCtx(t.Context()), expired} {
		p, err := m.Lock(ctx)
		if err != ctx.Err() || p != nil {
			t.Fatalf("uncontended Lock(done ctx) = (%p, %v), want (nil, %v)", p, err, ctx.Err())
		}
		lockWantLocked(t, m, false)
	}
}

// A Lock that would have to wait, given a done ctx, returns (nil, ctx.Err())
// at once without queueing.
func TestMutexLockDoneCtxWouldWait(t *testing.T) {
	m := gate.NewMutex(0)
	if _, ok := m.TryLock(); !ok {
		t.Fatal("TryLock failed")
	}
	if p, err := m.Lock(doneCtx(t.Context())); err != context.Canceled || p != nil {
		t.Fatalf("Lock(cancelled ctx) on a held mutex = (%p, %v), want (nil, context.Canceled)", p, err)
	}
	expired, cancel := context.WithDeadline(t.Context(), time.Unix(0, 0))
	defer cancel()
	if p, err := m.Lock(expired); err != context.DeadlineExceeded || p != nil {
		t.Fatalf("Lock(expired ctx) on a held mutex = (%p, %v), want (nil, context.DeadlineExceeded)", p, err)
	}
	lockWantWaiters(t, m, 0)
	m.Unlock()
	lockWantLocked(t, m, false)
}

// A waiting Lock whose ctx is cancelled returns (nil, ctx.Err()) unwrapped
// (not the cause), holds nothing and leaves the queue: the waiters around it
// keep their order.
func TestMutexLockCancelWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := gate.NewMutex(0)
		if _, err := m.Lock(t.Context()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancelCause(t.Context())
		a := goLock("a Lock", t.Context(), m.Lock)
		synctest.Wait()
		b := goLock("b Lock", ctx, m.Lock)
		synctest.Wait()
		c := goLock("c Lock", t.Context(), m.Lock)
		synctest.Wait()
		lockWantWaiters(t, m, 3)

		cancel(errors.New("the cause is not what Lock returns"))
		synctest.Wait()
		b.failed(t, context.Canceled)
		lockWantWaiters(t, m, 2)
		a.pending(t) // first waiter
		c.pending(t) // third waiter

		m.Unlock()
		synctest.Wait()
		a.ok(t)
		c.pending(t) // third waiter
		lockWantWaiters(t, m, 1)
		m.Unlock()
		synctest.Wait()
		c.ok(t)
		lockWantWaiters(t, m, 0)
		m.Unlock()
		lockWantLocked(t, m, false)

		// The only waiter cancelled: Unlock then leaves m unlocked.
		if _, err := m.Lock(t.Context()); err != nil {
			t.Fatal(err)
		}
		ctx2, cancel2 := context.WithCancel(t.Context())
		d := goLock("d Lock", ctx2, m.Lock)
		synctest.Wait()
		cancel2()
		synctest.Wait()
		d.failed(t, context.Canceled)
		lockWantWaiters(t, m, 0)
		m.Unlock()
		lockWantLocked(t, m, false)
		if _, ok := m.TryLock(); !ok {
			t.Fatal("TryLock failed: the cancelled waiter kept the lock")
		}
		m.Unlock()
	})
}

// A context deadline ends the wait after exactly its timeout on the bubble's
// clock, with context.DeadlineExceeded and no effect.
// tokio: sync_mutex.rs aborted_future_2, sync_mutex_owned.rs aborted_future_2
// (a waiter aborted by a timeout keeps neither the lock nor a place in the queue).
func TestMutexLockDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := gate.NewMutex(0)
		if _, err := m.Lock(t.Context()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
		defer cancel()
		w := goLock("Lock with a 1h deadline", ctx, m.Lock)
		synctest.Wait()
		lockWantWaiters(t, m, 1)
		time.Sleep(time.Hour - time.Nanosecond)
		synctest.Wait()
		w.pending(t) // 1ns before its deadline
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		w.failed(t, context.DeadlineExceeded)
		lockWantWaiters(t, m, 0)
		lockWantLocked(t, m, true) // still the holder's
		m.Unlock()
		lockWantLocked(t, m, false)
	})
}

// The zero Mutex is unlocked, holds the zero T, and works like NewMutex.
// tokio: sync_mutex.rs readiness, sync_mutex_owned.rs readiness (a held mutex
// is not ready; once unlocked, the waiter gets it).
func TestMutexZeroValue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var m gate.Mutex[string]
		lockWantLocked(t, &m, false)
		p, err := m.Lock(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if *p != "" {
			t.Fatalf("zero Mutex holds %q, want \"\"", *p)
		}
		*p = "set"
		w := goLock("w Lock", t.Context(), m.Lock)
		synctest.Wait()
		w.pending(t) // Lock on a held zero Mutex
		lockWantWaiters(t, &m, 1)
		m.Unlock()
		synctest.Wait()
		if pw := w.ok(t); pw != p || *pw != "set" {
			t.Fatalf("waiter got %p (%q), want %p (\"set\")", pw, *pw, p)
		}
		m.Unlock()
		lockWantLocked(t, &m, false)
	})
}

// Lock returns a pointer to the value the Mutex owns: NewMutex(v) holds a copy
// of v, every holder gets the same pointer, and writes are seen by the next
// holder.
// tokio: sync_mutex.rs straight_execution, sync_mutex_owned.rs straight_execution.
func TestMutexPointerToOwnedValue(t *testing.T) {
	type record struct {
		n int
		s []string
	}
	v := record{n: 1}
	m := gate.NewMutex(v)
	v.n = 2 // the Mutex holds its own copy
	p, ok := m.TryLock()
	if !ok {
		t.Fatal("TryLock failed")
	}
	if p.n != 1 {
		t.Fatalf("NewMutex(v) holds n = %d, want 1", p.n)
	}
	p.n, p.s = 3, append(p.s, "x")
	m.Unlock()
	q, err := m.Lock(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if q != p {
		t.Fatalf("second holder got %p, want the same pointer %p", q, p)
	}
	if q.n != 3 || !slices.Equal(q.s, []string{"x"}) {
		t.Fatalf("second holder sees %+v, want {n:3 s:[x]}", *q)
	}
	m.Unlock()
}

// Unlock of an unlocked Mutex panics with "gate: ..." and leaves it usable.
func TestMutexUnlockOfUnlockedPanics(t *testing.T) {
	var zero gate.Mutex[int]
	mustPanic(t, "Unlock of a zero Mutex", zero.Unlock)
	m := gate.NewMutex(0)
	mustPanic(t, "Unlock of a new Mutex", m.Unlock)
	if _, ok := m.TryLock(); !ok {
		t.Fatal("TryLock failed")
	}
	m.Unlock()
	mustPanic(t, "second Unlock", m.Unlock)
	// The panics changed nothing: m is unlocked, once.
	if _, ok := m.TryLock(); !ok {
		t.Fatal("TryLock after the recovered panics failed")
	}
	if _, ok := m.TryLock(); ok {
		t.Fatal("second TryLock succeeded: a panicking Unlock added a permit")
	}
	m.Unlock()
	lockWantLocked(t, m, false)
}

// The lock handed to a waiter at the moment its ctx ends is not lost: the
// waiter either holds it (err == nil) or passed it on to the next waiter, or
// back to the mutex. Both orders of cancel and Unlock, with and without a
// waiter behind; the goroutines of a bubble run in parallel, so the hand-off
// and the cancellation really race.
func TestMutexHandoffRaceWithCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for i := range 200 {
			m := gate.NewMutex(0)
			if _, err := m.Lock(t.Context()); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			a := goLock("a Lock", ctx, m.Lock)
			synctest.Wait()
			var b *async[*int]
			next := i%2 == 1
			if next {
				b = goLock("b Lock", t.Context(), m.Lock)
				synctest.Wait()
			}
			if i%4 < 2 {
				cancel()
				m.Unlock()
			} else {
				m.Unlock()
				cancel()
			}
			synctest.Wait()
			switch _, err := a.returned(t); err {
			case nil:
				lockWantLocked(t, m, true)
				if next {
					b.pending(t) // next waiter while the first holds m
				}
				m.Unlock()
				if next {
					synctest.Wait()
					b.ok(t)
					m.Unlock()
				}
			case context.Canceled:
				if next {
					b.ok(t)
					lockWantLocked(t, m, true)
					m.Unlock()
				}
			default:
				t.Fatalf("iteration %d: Lock = %v, want the lock or context.Canceled", i, err)
			}
			lockWantWaiters(t, m, 0)
			lockWantLocked(t, m, false)
			if _, ok := m.TryLock(); !ok {
				t.Fatalf("iteration %d: the mutex is stuck locked", i)
			}
			m.Unlock()
		}
	})
}

// ---------------------------------------------------------------------------
// Ports of tokio tests/sync_rwlock.rs.

// tokio: sync_rwlock.rs read_shared: multiple reads are ready at once.
func TestRWMutexReadShared(t *testing.T) {
	rw := gate.NewRWMutex(100)
	ready := t.Context()
	p1, err := rw.RLock(ready)
	if err != nil {
		t.Fatalf("first RLock = %v, want the lock at once", err)
	}
	p2, err := rw.RLock(ready)
	if err != nil {
		t.Fatalf("second RLock while read-locked = %v, want the lock at once", err)
	}
	if p1 != p2 || *p2 != 100 {
		t.Fatalf("readers got %p and %p (%d), want the same pointer to 100", p1, p2, *p2)
	}
	lockWantAvailable(t, rw, gate.MaxReaders-2)
	rw.RUnlock()
	rw.RUnlock()
	lockWantAvailable(t, rw, gate.MaxReaders)
}

// tokio: sync_rwlock.rs zero_max_readers and zero_max_readers_const (one Go
// constructor), plus the other ends of the range.
func TestRWMutexMaxReadersOutOfRangePanics(t *testing.T) {
	for _, n := range []int{0, -1, gate.MaxReaders + 1, math.MinInt} {
		mustPanic(t, fmt.Sprintf("NewRWMutexMaxReaders(_, %d)", n), func() { gate.NewRWMutexMaxReaders(0, n) })
	}
	for _, n := range []int{1, gate.MaxReaders} {
		if got := gate.RWMutexMaxReaders(gate.NewRWMutexMaxReaders(0, n)); got != n {
			t.Fatalf("NewRWMutexMaxReaders(_, %d) admits %d readers", n, got)
		}
	}
}

// tokio: sync_rwlock.rs write_exclusive_pending: a second write waits.
func TestRWMutexWriteExclusivePending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rw := gate.NewRWMutex(100)
		if _, err := rw.Lock(t.Context()); err != nil {
			t.Fatal(err)
		}
		w := goLock("w Lock", t.Context(), rw.Lock)
		synctest.Wait()
		w.pending(t) // Lock while write-locked
		lockWantRWWaiters(t, rw, 1)
	})
}

// tokio: sync_rwlock.rs write_shared_drop: the pending write gets the lock
// when the read is released.
// tokio: sync_rwlock.rs write_shared_pending too.
func TestRWMutexWriteSharedDrop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rw := gate.NewRWMutex(100)
		if _, err := rw.RLock(t.Context()); err != nil {
			t.Fatal(err)
		}
		w := goLock("w Lock", t.Context(), rw.Lock)
		synctest.Wait()
		w.pending(t) // Lock while read-locked
		rw.RUnlock()
		synctest.Wait()
		w.ok(t)
		lockWantAvailable(t, rw, 0)
		rw.Unlock()
		lockWantAvailable(t, rw, gate.MaxReaders)
	})
}

// tokio: sync_rwlock.rs write_uncontested.
func TestRWMutexWriteUncontested(t *testing.T) {
	rw := gate.NewRWMutex(100)
	p, err := rw.Lock(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	*p += 50
	if *p != 150 {
		t.Fatalf("*p = %d, want 150", *p)
	}
	rw.Unlock()
	if q, _ := rw.RLock(t.Context()); *q != 150 {
		t.Fatalf("reader sees %d, want 150", *q)
	}
	rw.RUnlock()
}

// tokio: sync_rwlock.rs try_read_try_write.
// tokio: sync_rwlock.rs try_write too.
func TestRWMutexTryReadTryWrite(t *testing.T) {
	rw := gate.NewRWMutex(15)
	rg1, ok := rw.TryRLock()
	if !ok || *rg1 != 15 {
		t.Fatalf("TryRLock = (%v, %v), want 15", rg1, ok)
	}
	if _, ok := rw.TryLock(); ok {
		t.Fatal("TryLock succeeded while read-locked")
	}
	rg2, ok := rw.TryRLock()
	if !ok || *rg2 != 15 {
		t.Fatalf("second TryRLock = (%v, %v), want 15", rg2, ok)
	}
	rw.RUnlock()
	rw.RUnlock()

	wg, ok := rw.TryLock()
	if !ok {
		t.Fatal("TryLock failed on an unlocked RWMutex")
	}
	*wg = 1515
	if p, ok := rw.TryRLock(); ok || p != nil {
		t.Fatalf("TryRLock while write-locked = (%p, %v), want (nil, false)", p, ok)
	}
	rw.Unlock()

	if p, ok := rw.TryRLock(); !ok || *p != 1515 {
		t.Fatalf("TryRLock after the write = (%v, %v), want 1515", p, ok)
	}
	rw.RUnlock()
}

// tokio: sync_rwlock.rs try_downgrade_map. Its None case ("f declines, the
// write lock is kept") is, in Go, a writer that decides not to call
// Downgrade: the write lock stays exclusive and the reader pending. Its Some
// case is Downgrade: the reader gets in with the same pointer.
// tokio: sync_rwlock.rs downgrade_map and read_exclusive_pending too (the
// reader is pending while the write lock is held, and gets in at Downgrade).
func TestRWMutexTryDowngradeMap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rw := gate.NewRWMutex(0)
		wp, err := rw.Lock(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		r := goLock("r RLock", t.Context(), rw.RLock)
		synctest.Wait()
		r.pending(t) // RLock while write-locked
		// None: no downgrade; the write lock is kept.
		synctest.Wait()
		r.pending(t) // RLock after a declined downgrade
		if _, ok := rw.TryRLock(); ok {
			t.Fatal("TryRLock succeeded while write-locked")
		}
		if _, ok := rw.TryLock(); ok {
			t.Fatal("TryLock succeeded while write-locked")
		}
		*wp = 7 // still exclusive
		// Some: downgrade; the reader gets access.
		rw.Downgrade()
		synctest.Wait()
		if rp := r.ok(t); rp != wp || *rp != 7 {
			t.Fatalf("reader got %p (%d), want the writer's %p (7)", rp, *rp, wp)
		}
		rw.RUnlock()
		rw.RUnlock()
		lockWantAvailable(t, rw, gate.MaxReaders)
	})
}

// ---------------------------------------------------------------------------
// RWMutex: the rules of API.md.

// Waiters are served in the order they started waiting: the readers at the
// head of the queue get in together, up to the next queued writer.
// tokio: sync_rwlock.rs write_order (w1 before w2).
func TestRWMutexFIFOMixed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rw := gate.NewRWMutex(0)
		ctx := t.Context()
		if _, err := rw.Lock(ctx); err != nil {
			t.Fatal(err)
		}
		queue := func(what string, lock func(context.Context) (*int, error)) *async[*int] {
			ch := goLock("ch lock", ctx, lock)
			synctest.Wait()
			return ch
		}
		r1 := queue("r1", rw.RLock)
		r2 := queue("r2", rw.RLock)
		w1 := queue("w1", rw.Lock)
		r3 := queue("r3", rw.RLock)
		r4 := queue("r4", rw.RLock)
		w2 := queue("w2", rw.Lock)
		lockWantRWWaiters(t, rw, 6)

		rw.Unlock()
		synctest.Wait()
		r1.ok(t)
		r2.ok(t)
		w1.pending(t) // w1 while r1 and r2 read
		r3.pending(t) // r3 behind w1
		r4.pending(t) // r4 behind w1
		w2.pending(t)
		lockWantRWWaiters(t, rw, 4)
		lockWantAvailable(t, rw, 0)

		rw.RUnlock()
		synctest.Wait()
		w1.pending(t) // w1 while r2 reads
		rw.RUnlock()
		synctest.Wait()
		p := w1.ok(t)
		*p = 1
		r3.pending(t) // r3 while w1 writes
		r4.pending(t) // r4 while w1 writes

		rw.Unlock()
		synctest.Wait()
		if p := r3.ok(t); *p != 1 {
			t.Fatalf("r3 sees %d, want 1", *p)
		}
		r4.ok(t)
		w2.pending(t) // w2 while r3 and r4 read
		lockWantRWWaiters(t, rw, 1)

		rw.RUnlock()
		rw.RUnlock()
		synctest.Wait()
		w2.ok(t)
		lockWantRWWaiters(t, rw, 0)
		rw.Unlock()
		lockWantAvailable(t, rw, gate.MaxReaders)
	})
}

// Write-preferring: a queued writer blocks the readers that come after it,
// TryRLock included, and gets the lock when the earlier readers leave.
// tokio: sync_rwlock.rs write_read_shared_pending.
func TestRWMutexWritePreferring(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rw := gate.NewRWMutex(0)
		for range 2 {
			if _, err := rw.RLock(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		w := goLock("w Lock", t.Context(), rw.Lock)
		synctest.Wait()
		w.pending(t) // writer while read-locked
		if p, ok := rw.TryRLock(); ok || p != nil {
			t.Fatalf("TryRLock with a writer queued = (%p, %v), want (nil, false)", p, ok)
		}
		if p, err := rw.RLock(doneCtx(t.Context())); err != context.Canceled || p != nil {
			t.Fatalf("RLock(cancelled ctx) with a writer queued = (%p, %v), want (nil, context.Canceled)", p, err)
		}
		if _, ok := rw.TryLock(); ok {
			t.Fatal("TryLock succeeded while read-locked")
		}
		r := goLock("r RLock", t.Context(), rw.RLock)
		synctest.Wait()
		r.pending(t) // reader behind the queued writer
		lockWantRWWaiters(t, rw, 2)

		rw.RUnlock()
		synctest.Wait()
		w.pending(t) // writer while one reader is left
		r.pending(t) // reader behind the queued writer
		rw.RUnlock()
		synctest.Wait()
		w.ok(t)
		r.pending(t) // reader while the writer holds
		rw.Unlock()
		synctest.Wait()
		r.ok(t)
		rw.RUnlock()
		lockWantAvailable(t, rw, gate.MaxReaders)
	})
}

// Unlock and RUnlock hand the lock to the queue: a Try* or a newcomer that
// comes right after does not get it.
func TestRWMutexNoBargingAfterUnlock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rw := gate.NewRWMutex(0)
		if _, err := rw.Lock(t.Context()); err != nil {
			t.Fatal(err)
		}
		w := goLock("w Lock", t.Context(), rw.Lock)
		synctest.Wait()
		rw.Unlock()
		if _, ok := rw.TryLock(); ok {
			t.Fatal("TryLock right after Unlock took the lock from the queued writer")
		}
		if _, ok := rw.TryRLock(); ok {
			t.Fatal("TryRLock right after Unlock took the lock from the queued writer")
		}
		if _, err := rw.RLock(doneCtx(t.Context())); err != context.Canceled {
			t.Fatalf("RLock(cancelled ctx) right after Unlock = %v, want context.Canceled", err)
		}
		synctest.Wait()
		w.ok(t)
		lockWantRWWaiters(t, rw, 0)

		// The same with the last reader's RUnlock.
		rw.Unlock()
		if _, err := rw.RLock(t.Context()); err != nil {
			t.Fatal(err)
		}
		w2 := goLock("w2 Lock", t.Context(), rw.Lock)
		synctest.Wait()
		rw.RUnlock()
		if _, ok := rw.TryRLock(); ok {
			t.Fatal("TryRLock right after RUnlock took the lock from the queued writer")
		}
		if _, ok := rw.TryLock(); ok {
			t.Fatal("TryLock right after RUnlock took the lock from the queued writer")
		}
		synctest.Wait()
		w2.ok(t)
		rw.Unlock()
		lockWantAvailable(t, rw, gate.MaxReaders)
	})
}

// RLock and Lock given a done ctx return (nil, ctx.Err()) at once and keep
// nothing (no lock, no partial grant, no place in the queue), whether they
// could have completed at once or would have waited.
func TestRWMutexDoneCtx(t *testing.T) {
	rw := gate.NewRWMutexMaxReaders(0, 4)
	done := doneCtx(t.Context())
	expired, cancel := context.WithDeadline(t.Context(), time.Unix(0, 0))
	defer cancel()
	for _, ctx := range []context.Context{done, expired} {
		// Free: would complete at once.
		if p, err := rw.RLock(ctx); err != ctx.Err() || p != nil {
			t.Fatalf("RLock(done ctx) on a free RWMutex = (%p, %v), want (nil, %v)", p, err, ctx.Err())
		}
		if p, err := rw.Lock(ctx); err != ctx.Err() || p != nil {
			t.Fatalf("Lock(done ctx) on a free RWMutex = (%p, %v), want (nil, %v)", p, err, ctx.Err())
		}
		lockWantAvailable(t, rw, 4)
		// Read-locked: RLock could complete, Lock would wait.
		if _, ok := rw.TryRLock(); !ok {
			t.Fatal("TryRLock failed")
		}
		if p, err := rw.RLock(ctx); err != ctx.Err() || p != nil {
			t.Fatalf("RLock(done ctx) while read-locked = (%p, %v), want (nil, %v)", p, err, ctx.Err())
		}
		if p, err := rw.Lock(ctx); err != ctx.Err() || p != nil {
			t.Fatalf("Lock(done ctx) while read-locked = (%p, %v), want (nil, %v)", p, err, ctx.Err())
		}
		lockWantRWWaiters(t, rw, 0)
		lockWantAvailable(t, rw, 3) // no partial grant kept
		rw.RUnlock()
		// Write-locked: both would wait.
		if _, ok := rw.TryLock(); !ok {
			t.Fatal("TryLock failed")
		}
		if p, err := rw.RLock(ctx); err != ctx.Err() || p != nil {
			t.Fatalf("RLock(done ctx) while write-locked = (%p, %v), want (nil, %v)", p, err, ctx.Err())
		}
		if p, err := rw.Lock(ctx); err != ctx.Err() || p != nil {
			t.Fatalf("Lock(done ctx) while write-locked = (%p, %v), want (nil, %v)", p, err, ctx.Err())
		}
		lockWantRWWaiters(t, rw, 0)
		rw.Unlock()
		lockWantAvailable(t, rw, 4)
	}
}

// Cancelling a waiting RLock or Lock returns (nil, ctx.Err()), keeps nothing
// and leaves the queue: a writer's partial grant goes on to the waiters
// behind it (readers get in; a writer inherits it).
func TestRWMutexCancelWhileWaiting(t *testing.T) {
	t.Run("reader behind a writer", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			rw := gate.NewRWMutex(0)
			if _, err := rw.Lock(t.Context()); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancelCause(t.Context())
			r := goLock("r RLock", ctx, rw.RLock)
			synctest.Wait()
			cancel(errors.New("cause"))
			synctest.Wait()
			r.failed(t, context.Canceled)
			lockWantRWWaiters(t, rw, 0)
			rw.Unlock()
			lockWantAvailable(t, rw, gate.MaxReaders)
		})
	})
	t.Run("only writer behind a reader", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			rw := gate.NewRWMutexMaxReaders(0, 5)
			if _, err := rw.RLock(t.Context()); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			w := goLock("w Lock", ctx, rw.Lock)
			synctest.Wait()
			lockWantAvailable(t, rw, 0) // the writer holds 4 as a partial grant
			cancel()
			synctest.Wait()
			w.failed(t, context.Canceled)
			lockWantRWWaiters(t, rw, 0)
			lockWantAvailable(t, rw, 4) // its partial grant came back
			if _, ok := rw.TryRLock(); !ok {
				t.Fatal("TryRLock failed after the queued writer left")
			}
			rw.RUnlock()
			rw.RUnlock()
			lockWantAvailable(t, rw, 5)
		})
	})
	// tokio: sync_rwlock.rs write_read_shared_drop_pending.
	t.Run("writer with readers behind", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			rw := gate.NewRWMutexMaxReaders(0, 5)
			if _, err := rw.RLock(t.Context()); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			w := goLock("w Lock", ctx, rw.Lock)
			synctest.Wait()
			r1 := goLock("r1 RLock", t.Context(), rw.RLock)
			r2 := goLock("r2 RLock", t.Context(), rw.RLock)
			synctest.Wait()
			r1.pending(t) // r1 behind the writer
			r2.pending(t) // r2 behind the writer
			cancel()
			synctest.Wait()
			w.failed(t, context.Canceled)
			r1.ok(t)
			r2.ok(t)
			lockWantRWWaiters(t, rw, 0)
			lockWantAvailable(t, rw, 2)
			for range 3 {
				rw.RUnlock()
			}
			lockWantAvailable(t, rw, 5)
		})
	})
	t.Run("head writer with a writer behind", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			rw := gate.NewRWMutexMaxReaders(0, 5)
			if _, err := rw.RLock(t.Context()); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			w1 := goLock("w1 Lock", ctx, rw.Lock)
			synctest.Wait()
			w2 := goLock("w2 Lock", t.Context(), rw.Lock)
			synctest.Wait()
			cancel()
			synctest.Wait()
			w1.failed(t, context.Canceled)
			w2.pending(t) // second writer while read-locked
			lockWantRWWaiters(t, rw, 1)
			if _, ok := rw.TryRLock(); ok {
				t.Fatal("TryRLock succeeded with a writer queued")
			}
			rw.RUnlock()
			synctest.Wait()
			w2.ok(t)
			rw.Unlock()
			lockWantAvailable(t, rw, 5)
		})
	})
	t.Run("writer in the middle", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			rw := gate.NewRWMutex(0)
			if _, err := rw.RLock(t.Context()); err != nil {
				t.Fatal(err)
			}
			w1 := goLock("w1 Lock", t.Context(), rw.Lock)
			synctest.Wait()
			ctx, cancel := context.WithCancel(t.Context())
			w2 := goLock("w2 Lock", ctx, rw.Lock)
			synctest.Wait()
			r := goLock("r RLock", t.Context(), rw.RLock)
			synctest.Wait()
			cancel()
			synctest.Wait()
			w2.failed(t, context.Canceled)
			w1.pending(t) // first writer while read-locked
			r.pending(t)  // reader behind the first writer
			lockWantRWWaiters(t, rw, 2)
			rw.RUnlock()
			synctest.Wait()
			w1.ok(t)
			r.pending(t) // reader while the first writer holds
			rw.Unlock()
			synctest.Wait()
			r.ok(t)
			rw.RUnlock()
			lockWantAvailable(t, rw, gate.MaxReaders)
		})
	})
}

// Context deadlines end RLock and Lock waits after exactly their timeout on
// the bubble's clock, with no effect (a writer's partial grant goes back).
func TestRWMutexDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rw := gate.NewRWMutexMaxReaders(0, 3)
		if _, err := rw.Lock(t.Context()); err != nil {
			t.Fatal(err)
		}
		type timed struct {
			err error
			at  time.Time
		}
		start := time.Now()
		wait := func(d time.Duration, lock func(context.Context) (*int, error)) <-chan timed {
			ch := make(chan timed, 1)
			go func() {
				ctx, cancel := context.WithTimeout(t.Context(), d)
				defer cancel()
				_, err := lock(ctx)
				ch <- timed{err, time.Now()}
			}()
			synctest.Wait()
			return ch
		}
		r := wait(time.Hour, rw.RLock)
		w := wait(2*time.Hour, rw.Lock)
		lockWantRWWaiters(t, rw, 2)
		for _, c := range []struct {
			ch   <-chan timed
			want time.Duration
		}{{r, time.Hour}, {w, 2 * time.Hour}} {
			got := <-c.ch
			if got.err != context.DeadlineExceeded {
				t.Fatalf("wait = %v, want context.DeadlineExceeded", got.err)
			}
			if d := got.at.Sub(start); d != c.want {
				t.Fatalf("gave up after %v, want exactly %v", d, c.want)
			}
		}
		lockWantRWWaiters(t, rw, 0)
		lockWantAvailable(t, rw, 0) // still write-locked
		rw.Unlock()

		// A writer timing out behind a reader gives its partial grant back.
		if _, err := rw.RLock(t.Context()); err != nil {
			t.Fatal(err)
		}
		start = time.Now()
		w = wait(time.Minute, rw.Lock)
		lockWantAvailable(t, rw, 0)
		if got := <-w; got.err != context.DeadlineExceeded || got.at.Sub(start) != time.Minute {
			t.Fatalf("Lock = %v after %v, want context.DeadlineExceeded after 1m", got.err, got.at.Sub(start))
		}
		lockWantAvailable(t, rw, 2)
		rw.RUnlock()
		lockWantAvailable(t, rw, 3)
	})
}

// The zero RWMutex is unlocked, holds the zero T and admits MaxReaders.
func TestRWMutexZeroValue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rw gate.RWMutex[int]
		if got := gate.RWMutexMaxReaders(&rw); got != gate.MaxReaders {
			t.Fatalf("zero RWMutex admits %d readers, want MaxReaders", got)
		}
		lockWantAvailable(t, &rw, gate.MaxReaders)
		const n = 1000
		for i := range n {
			if p, ok := rw.TryRLock(); !ok || *p != 0 {
				t.Fatalf("TryRLock %d on a zero RWMutex = (%v, %v), want 0", i, p, ok)
			}
		}
		lockWantAvailable(t, &rw, gate.MaxReaders-n)
		w := goLock("w Lock", t.Context(), rw.Lock)
		synctest.Wait()
		w.pending(t) // writer while read-locked
		for range n {
			rw.RUnlock()
		}
		synctest.Wait()
		p := w.ok(t)
		*p = 9
		rw.Unlock()
		if q, ok := rw.TryRLock(); !ok || q != p || *q != 9 {
			t.Fatalf("TryRLock = (%p, %v), want %p (9)", q, ok, p)
		}
		rw.RUnlock()
		lockWantAvailable(t, &rw, gate.MaxReaders)
	})
	if got := gate.RWMutexMaxReaders(gate.NewRWMutex(0)); got != gate.MaxReaders {
		t.Fatalf("NewRWMutex admits %d readers, want MaxReaders", got)
	}
}

// NewRWMutexMaxReaders(v, n) admits n readers; the next one waits (TryRLock
// fails) until one leaves.
// tokio: sync_rwlock.rs exhaust_reading (with 1024 max readers).
func TestRWMutexMaxReaders(t *testing.T) {
	for _, n := range []int{1, 3, 1024} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rw := gate.NewRWMutexMaxReaders(0, n)
				if got := gate.RWMutexMaxReaders(rw); got != n {
					t.Fatalf("RWMutexMaxReaders = %d, want %d", got, n)
				}
				for i := range n {
					if _, ok := rw.TryRLock(); !ok {
						t.Fatalf("TryRLock %d of %d failed", i+1, n)
					}
				}
				if _, ok := rw.TryRLock(); ok {
					t.Fatalf("TryRLock %d succeeded with max %d", n+1, n)
				}
				extra := goLock("extra RLock", t.Context(), rw.RLock)
				synctest.Wait()
				extra.pending(t) // reader n+1
				rw.RUnlock()
				synctest.Wait()
				extra.ok(t)
				if _, ok := rw.TryLock(); ok {
					t.Fatal("TryLock succeeded while read-locked")
				}
				for range n {
					rw.RUnlock()
				}
				lockWantAvailable(t, rw, n)
				if _, ok := rw.TryLock(); !ok {
					t.Fatal("TryLock failed after every reader left")
				}
				rw.Unlock()
			})
		})
	}
}

// RLock and Lock return pointers to the value the RWMutex owns: NewRWMutex(v)
// holds a copy of v, readers and writers get the same pointer, and a writer's
// writes are seen by later readers.
// tokio: sync_rwlock.rs into_inner (there is no IntoInner: the RWMutex owns
// the value it was created with) and read_uncontested.
func TestRWMutexPointerToOwnedValue(t *testing.T) {
	v := []int{1}
	type box struct{ s []int }
	rw := gate.NewRWMutex(box{v})
	rp, ok := rw.TryRLock()
	if !ok || !slices.Equal(rp.s, []int{1}) {
		t.Fatalf("TryRLock = (%v, %v), want {[1]}", rp, ok)
	}
	rw.RUnlock()
	wp, ok := rw.TryLock()
	if !ok || wp != rp {
		t.Fatalf("TryLock = (%p, %v), want the readers' pointer %p", wp, ok, rp)
	}
	wp.s = append(wp.s, 2)
	rw.Unlock()
	if q, ok := rw.TryRLock(); !ok || q != rp || !slices.Equal(q.s, []int{1, 2}) {
		t.Fatalf("TryRLock after the write = (%v, %v), want {[1 2]}", q, ok)
	}
	rw.RUnlock()
}

// Downgrade turns the write lock into a read lock: new readers may join,
// writers may not.
func TestRWMutexDowngrade(t *testing.T) {
	rw := gate.NewRWMutexMaxReaders(0, 4)
	p, err := rw.Lock(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	*p = 1
	rw.Downgrade()
	lockWantAvailable(t, rw, 3)
	if q, ok := rw.TryRLock(); !ok || q != p || *q != 1 {
		t.Fatalf("TryRLock after Downgrade = (%p, %v), want %p (1)", q, ok, p)
	}
	if _, ok := rw.TryLock(); ok {
		t.Fatal("TryLock succeeded after Downgrade")
	}
	rw.RUnlock()
	rw.RUnlock()
	lockWantAvailable(t, rw, 4)
	if _, ok := rw.TryLock(); !ok {
		t.Fatal("TryLock failed after the downgraded lock was released")
	}
	rw.Unlock()
}

// A writer queued behind the write lock cannot get in at Downgrade, and the
// readers that come after it wait behind it.
func TestRWMutexDowngradeKeepsQueuedWriterOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rw := gate.NewRWMutex(0)
		if _, err := rw.Lock(t.Context()); err != nil {
			t.Fatal(err)
		}
		w := goLock("w Lock", t.Context(), rw.Lock)
		synctest.Wait()
		rw.Downgrade()
		synctest.Wait()
		w.pending(t) // writer after Downgrade
		if _, ok := rw.TryRLock(); ok {
			t.Fatal("TryRLock succeeded with a writer first in the queue")
		}
		r := goLock("r RLock", t.Context(), rw.RLock)
		synctest.Wait()
		r.pending(t) // reader behind the queued writer
		rw.RUnlock()
		synctest.Wait()
		w.ok(t)
		rw.Unlock()
		synctest.Wait()
		r.ok(t)
		rw.RUnlock()
		lockWantAvailable(t, rw, gate.MaxReaders)
	})
}

// At Downgrade the readers at the head of the queue get in, up to the first
// queued writer.
func TestRWMutexDowngradeAdmitsQueuedReaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rw := gate.NewRWMutexMaxReaders(0, 10)
		if _, err := rw.Lock(t.Context()); err != nil {
			t.Fatal(err)
		}
		queue := func(what string, lock func(context.Context) (*int, error)) *async[*int] {
			ch := goLock("ch lock", t.Context(), lock)
			synctest.Wait()
			return ch
		}
		r1 := queue("r1", rw.RLock)
		r2 := queue("r2", rw.RLock)
		w := queue("w", rw.Lock)
		r3 := queue("r3", rw.RLock)
		rw.Downgrade()
		synctest.Wait()
		r1.ok(t)
		r2.ok(t)
		w.pending(t)  // writer while three readers hold
		r3.pending(t) // r3 behind the writer
		lockWantRWWaiters(t, rw, 2)
		for range 3 {
			rw.RUnlock()
		}
		synctest.Wait()
		w.ok(t)
		r3.pending(t) // r3 while the writer holds
		rw.Unlock()
		synctest.Wait()
		r3.ok(t)
		rw.RUnlock()
		lockWantAvailable(t, rw, 10)
	})
}

// With maxReaders 1, the downgraded lock is the only reader allowed: a queued
// reader waits for its RUnlock.
func TestRWMutexDowngradeMaxReadersOne(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rw := gate.NewRWMutexMaxReaders(0, 1)
		if _, err := rw.Lock(t.Context()); err != nil {
			t.Fatal(err)
		}
		r := goLock("r RLock", t.Context(), rw.RLock)
		synctest.Wait()
		rw.Downgrade()
		synctest.Wait()
		r.pending(t) // reader beyond max 1 after Downgrade
		if _, ok := rw.TryRLock(); ok {
			t.Fatal("TryRLock succeeded beyond max 1")
		}
		rw.RUnlock()
		synctest.Wait()
		r.ok(t)
		rw.RUnlock()
		lockWantAvailable(t, rw, 1)
	})
}

// RUnlock of an RWMutex that is not read-locked panics with "gate: ...".
// The check counts permits (see the RWMutex doc): RUnlock while a writer
// holds the lock, or Unlock/Downgrade while exactly maxReaders readers hold
// it, look like valid calls and are not detected, so they are not tested.
func TestRWMutexRUnlockNotReadLockedPanics(t *testing.T) {
	t.Run("zero value", func(t *testing.T) {
		var rw gate.RWMutex[int]
		mustPanic(t, "RUnlock of a zero RWMutex", rw.RUnlock)
		lockWantAvailable(t, &rw, gate.MaxReaders)
	})
	t.Run("unlocked", func(t *testing.T) {
		rw := gate.NewRWMutexMaxReaders(0, 3)
		mustPanic(t, "RUnlock of a new RWMutex", rw.RUnlock)
		if _, ok := rw.TryRLock(); !ok {
			t.Fatal("TryRLock failed")
		}
		rw.RUnlock()
		mustPanic(t, "second RUnlock", rw.RUnlock)
		lockWantAvailable(t, rw, 3)
	})
}

// Unlock of an RWMutex that is not write-locked panics with "gate: ...".
func TestRWMutexUnlockNotWriteLockedPanics(t *testing.T) {
	t.Run("zero value", func(t *testing.T) {
		var rw gate.RWMutex[int]
		mustPanic(t, "Unlock of a zero RWMutex", rw.Unlock)
	})
	t.Run("unlocked", func(t *testing.T) {
		rw := gate.NewRWMutex(0)
		mustPanic(t, "Unlock of a new RWMutex", rw.Unlock)
		if _, ok := rw.TryLock(); !ok {
			t.Fatal("TryLock failed")
		}
		rw.Unlock()
		mustPanic(t, "second Unlock", rw.Unlock)
		lockWantAvailable(t, rw, gate.MaxReaders)
	})
	t.Run("read-locked", func(t *testing.T) {
		rw := gate.NewRWMutex(0)
		if _, ok := rw.TryRLock(); !ok {
			t.Fatal("TryRLock failed")
		}
		mustPanic(t, "Unlock of a read-locked RWMutex", rw.Unlock)
		lockWantAvailable(t, rw, gate.MaxReaders-1)
		rw.RUnlock()
		lockWantAvailable(t, rw, gate.MaxReaders)
	})
	t.Run("read-locked with a writer queued", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			rw := gate.NewRWMutex(0)
			if _, ok := rw.TryRLock(); !ok {
				t.Fatal("TryRLock failed")
			}
			w := goLock("w Lock", t.Context(), rw.Lock)
			synctest.Wait()
			mustPanic(t, "Unlock of a read-locked RWMutex with a writer queued", rw.Unlock)
			synctest.Wait()
			w.pending(t) // writer after the bad Unlock
			rw.RUnlock()
			synctest.Wait()
			w.ok(t)
			rw.Unlock()
		})
	})
}

// Downgrade of an RWMutex that is not write-locked panics with "gate: ...".
func TestRWMutexDowngradeNotWriteLockedPanics(t *testing.T) {
	t.Run("unlocked", func(t *testing.T) {
		var zero gate.RWMutex[int]
		mustPanic(t, "Downgrade of a zero RWMutex", zero.Downgrade)
		rw := gate.NewRWMutexMaxReaders(0, 1)
		mustPanic(t, "Downgrade of an unlocked RWMutex with maxReaders 1", rw.Downgrade)
		lockWantAvailable(t, rw, 1)
	})
	t.Run("read-locked", func(t *testing.T) {
		rw := gate.NewRWMutex(0)
		if _, ok := rw.TryRLock(); !ok {
			t.Fatal("TryRLock failed")
		}
		mustPanic(t, "Downgrade of a read-locked RWMutex", rw.Downgrade)
		lockWantAvailable(t, rw, gate.MaxReaders-1)
		rw.RUnlock()
	})
	t.Run("already downgraded", func(t *testing.T) {
		rw := gate.NewRWMutex(0)
		if _, ok := rw.TryLock(); !ok {
			t.Fatal("TryLock failed")
		}
		rw.Downgrade()
		mustPanic(t, "second Downgrade", rw.Downgrade)
		rw.RUnlock()
		lockWantAvailable(t, rw, gate.MaxReaders)
	})
}

// The lock handed to a waiter at the moment its ctx ends is not lost: the
// waiter either holds it or passed it on to the waiters behind it (or back to
// the RWMutex). A writer behind a reader, and a reader behind a writer, each
// with and without a waiter of the other kind behind it, in both orders of
// cancel and hand-off.
func TestRWMutexHandoffRaceWithCancel(t *testing.T) {
	const max = 4
	synctest.Test(t, func(t *testing.T) {
		for i := range 400 {
			rw := gate.NewRWMutexMaxReaders(0, max)
			writerFirst := i%2 == 0 // the cancelled waiter is a writer behind a reader
			next := i%4 >= 2        // a waiter of the other kind queues behind it
			release := rw.Unlock
			if writerFirst {
				release = rw.RUnlock
				if _, err := rw.RLock(t.Context()); err != nil {
					t.Fatal(err)
				}
			} else if _, err := rw.Lock(t.Context()); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			first, second := rw.RLock, rw.Lock
			if writerFirst {
				first, second = rw.Lock, rw.RLock
			}
			a := goLock("a first", ctx, first)
			synctest.Wait()
			var b *async[*int]
			if next {
				b = goLock("b second", t.Context(), second)
				synctest.Wait()
			}
			if i%8 < 4 {
				cancel()
				release()
			} else {
				release()
				cancel()
			}
			synctest.Wait()
			switch _, err := a.returned(t); err {
			case nil:
				if next {
					b.pending(t) // waiter behind the first while it holds
				}
				if writerFirst {
					rw.Unlock()
				} else {
					rw.RUnlock()
				}
				if next {
					synctest.Wait()
					b.ok(t)
				}
			case context.Canceled:
				if next {
					b.ok(t)
				}
			default:
				t.Fatalf("iteration %d: first waiter = %v, want the lock or context.Canceled", i, err)
			}
			if next {
				if writerFirst {
					rw.RUnlock()
				} else {
					rw.Unlock()
				}
			}
			lockWantRWWaiters(t, rw, 0)
			lockWantAvailable(t, rw, max)
			if _, ok := rw.TryLock(); !ok {
				t.Fatalf("iteration %d: the RWMutex is stuck", i)
			}
			rw.Unlock()
		}
	})
}

// TestMutexCancelledBeforeUnlock: a Lock whose ctx ends before the holder
// unlocks returns ctx.Err() and does not hold the lock (go.dev/issue/63615
// for a mutex); the lock is free for the next caller.
func TestMutexCancelledBeforeUnlock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := gate.NewMutex(0)
		if _, ok := m.TryLock(); !ok {
			t.Fatal("TryLock of a new Mutex failed")
		}
		ctx, cancel := context.WithCancel(t.Context())
		l := goErr("Lock", func() error { _, err := m.Lock(ctx); return err })
		synctest.Wait()
		cancel()
		m.Unlock() // before the waiter's goroutine has run again
		synctest.Wait()
		l.failed(t, context.Canceled)
		if _, ok := m.TryLock(); !ok {
			t.Fatal("the cancelled Lock kept the mutex")
		}
		m.Unlock()
	})
}

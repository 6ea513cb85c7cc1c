package gate_test

// Tests of Mutex and RWMutex: ports of tokio's tests/sync_mutex.rs,
// tests/sync_mutex_owned.rs and tests/sync_rwlock.rs, then one test per rule
// of API.md ("Rules that hold for every primitive" and lock.go).
//
// Every "still blocked" / "woke up" assertion runs inside a testing/synctest
// bubble: start the goroutine, synctest.Wait(), and it is either finished or
// durably parked, so the result channel (with a select default) and the
// MutexWaiters / RWMutexWaiters hooks can be checked exactly. Waiting calls use
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
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gophergate/gate"
)

// ---------------------------------------------------------------------------
// Helpers (names start with lock* so they do not collide with the helpers of
// the other test files of package gate_test).

// lockStressWatchdog bounds the stress tests, which take milliseconds: past it
// every wait gives up and the test reports a lost lock instead of hanging.
const lockStressWatchdog = 15 * time.Second

// lockResult is what a Lock or RLock started by lockAsync returned.
type lockResult[T any] struct {
	p   *T
	err error
}

// lockAsync calls lock(ctx) in a new goroutine and returns a channel that
// receives its result. The goroutine never unlocks: the test does it on the
// holder's behalf (a lock is not tied to a goroutine).
func lockAsync[T any](ctx context.Context, lock func(context.Context) (*T, error)) <-chan lockResult[T] {
	ch := make(chan lockResult[T], 1)
	go func() {
		p, err := lock(ctx)
		ch <- lockResult[T]{p, err}
	}()
	return ch
}

// lockPending fails the test if the call behind ch has returned. Call it after
// synctest.Wait.
func lockPending[T any](t *testing.T, ch <-chan lockResult[T], what string) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("%s: returned (%p, %v), want still blocked", what, r.p, r.err)
	default:
	}
}

// lockAcquired returns the pointer the call behind ch got, and fails the test
// if it is still blocked or failed. Call it after synctest.Wait.
func lockAcquired[T any](t *testing.T, ch <-chan lockResult[T], what string) *T {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil || r.p == nil {
			t.Fatalf("%s: returned (%p, %v), want the lock", what, r.p, r.err)
		}
		return r.p
	default:
		t.Fatalf("%s: still blocked, want it to hold the lock", what)
	}
	return nil
}

// lockFailed fails the test unless the call behind ch has returned (nil, want)
// with want itself, unwrapped. Call it after synctest.Wait.
func lockFailed[T any](t *testing.T, ch <-chan lockResult[T], want error, what string) {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != want || r.p != nil {
			t.Fatalf("%s: returned (%p, %v), want (nil, %v)", what, r.p, r.err, want)
		}
	default:
		t.Fatalf("%s: still blocked, want it to fail with %v", what, want)
	}
}

// lockDoneCtx returns a context derived from parent that is already cancelled.
// A Lock or RLock given it succeeds only if it can complete without waiting,
// so it doubles as tokio's "ready on the first poll" assertion.
func lockDoneCtx(parent context.Context) context.Context {
	ctx, cancel := context.WithCancel(parent)
	cancel()
	return ctx
}

// lockMustPanic fails the test unless f panics with a message that starts
// with "gate: ".
func lockMustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	msg, panicked := func() (msg string, panicked bool) {
		defer func() {
			if r := recover(); r != nil {
				msg, panicked = fmt.Sprint(r), true
			}
		}()
		f()
		return "", false
	}()
	if !panicked {
		t.Fatalf("%s: did not panic", what)
	}
	if !strings.HasPrefix(msg, "gate: ") {
		t.Fatalf("%s: panicked with %q, want a message starting with \"gate: \"", what, msg)
	}
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

// tokio: sync_mutex.rs straight_execution, sync_mutex_owned.rs straight_execution.
func TestMutexStraightExecution(t *testing.T) {
	m := gate.NewMutex(100)
	ready := t.Context() // a Lock that had to wait would hang this goroutine: TryLock cross-checks
	for _, step := range []struct{ want, set int }{{100, 99}, {99, 98}, {98, 98}} {
		p, err := m.Lock(ready)
		if err != nil {
			t.Fatalf("Lock = %v, want the lock at once", err)
		}
		if *p != step.want {
			t.Fatalf("*p = %d, want %d", *p, step.want)
		}
		*p = step.set
		m.Unlock()
	}
}

// tokio: sync_mutex.rs readiness, sync_mutex_owned.rs readiness.
func TestMutexReadiness(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := gate.NewMutex(100)
		p, err := m.Lock(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		t2 := lockAsync(t.Context(), m.Lock)
		synctest.Wait()
		// We can't acquire the lock since it's held.
		lockPending(t, t2, "second Lock while the first holds m")
		lockWantWaiters(t, m, 1)
		// But once it is unlocked, the waiter gets it.
		m.Unlock()
		synctest.Wait()
		if p2 := lockAcquired(t, t2, "second Lock after Unlock"); p2 != p || *p2 != 100 {
			t.Fatalf("second Lock got %p (%d), want %p (100)", p2, *p2, p)
		}
		lockWantWaiters(t, m, 0)
		m.Unlock()
		lockWantLocked(t, m, false)
	})
}

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

// tokio: sync_mutex.rs aborted_future_2, sync_mutex_owned.rs aborted_future_2:
// a waiter aborted by a timeout does not keep the lock (nor a place in the queue).
func TestMutexAbortedFuture2(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := gate.NewMutex(0)
		if _, err := m.Lock(t.Context()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Millisecond)
		defer cancel()
		w := lockAsync(ctx, m.Lock)
		synctest.Wait()
		lockPending(t, w, "Lock while m is held")
		lockWantWaiters(t, m, 1)
		r := <-w // the bubble clock advances to the 1 ms deadline
		if r.err != context.DeadlineExceeded || r.p != nil {
			t.Fatalf("aborted Lock = (%p, %v), want (nil, %v)", r.p, r.err, context.DeadlineExceeded)
		}
		lockWantWaiters(t, m, 0)
		m.Unlock()
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
		a := lockAsync(t.Context(), m.Lock)
		synctest.Wait()
		lockWantWaiters(t, m, 1)
		m.Unlock()
		// a has not necessarily run yet, but the lock is already its own.
		if p, ok := m.TryLock(); ok || p != nil {
			t.Fatalf("TryLock right after Unlock = (%p, %v): it took the lock from the queued waiter", p, ok)
		}
		if p, err := m.Lock(lockDoneCtx(t.Context())); err != context.Canceled || p != nil {
			t.Fatalf("Lock(cancelled ctx) right after Unlock = (%p, %v), want (nil, context.Canceled): it must have had to wait", p, err)
		}
		b := lockAsync(t.Context(), m.Lock)
		synctest.Wait()
		pa := lockAcquired(t, a, "queued waiter after Unlock")
		lockPending(t, b, "newcomer")
		lockWantWaiters(t, m, 1)
		*pa = 1
		m.Unlock()
		synctest.Wait()
		if pb := lockAcquired(t, b, "newcomer after the waiter's Unlock"); *pb != 1 {
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
	for _, ctx := range []context.Context{lockDoneCtx(t.Context()), expired} {
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
	if p, err := m.Lock(lockDoneCtx(t.Context())); err != context.Canceled || p != nil {
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
		a := lockAsync(t.Context(), m.Lock)
		synctest.Wait()
		b := lockAsync(ctx, m.Lock)
		synctest.Wait()
		c := lockAsync(t.Context(), m.Lock)
		synctest.Wait()
		lockWantWaiters(t, m, 3)

		cancel(errors.New("the cause is not what Lock returns"))
		synctest.Wait()
		lockFailed(t, b, context.Canceled, "cancelled waiter")
		lockWantWaiters(t, m, 2)
		lockPending(t, a, "first waiter")
		lockPending(t, c, "third waiter")

		m.Unlock()
		synctest.Wait()
		lockAcquired(t, a, "first waiter after Unlock")
		lockPending(t, c, "third waiter")
		lockWantWaiters(t, m, 1)
		m.Unlock()
		synctest.Wait()
		lockAcquired(t, c, "third waiter after the first's Unlock")
		lockWantWaiters(t, m, 0)
		m.Unlock()
		lockWantLocked(t, m, false)

		// The only waiter cancelled: Unlock then leaves m unlocked.
		if _, err := m.Lock(t.Context()); err != nil {
			t.Fatal(err)
		}
		ctx2, cancel2 := context.WithCancel(t.Context())
		d := lockAsync(ctx2, m.Lock)
		synctest.Wait()
		cancel2()
		synctest.Wait()
		lockFailed(t, d, context.Canceled, "only waiter, cancelled")
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
func TestMutexLockDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := gate.NewMutex(0)
		if _, err := m.Lock(t.Context()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
		defer cancel()
		start := time.Now()
		type timed struct {
			lockResult[int]
			at time.Time
		}
		ch := make(chan timed, 1)
		go func() {
			p, err := m.Lock(ctx)
			ch <- timed{lockResult[int]{p, err}, time.Now()}
		}()
		synctest.Wait()
		lockWantWaiters(t, m, 1)
		r := <-ch // the test goroutine blocks: the clock jumps to the deadline
		if r.err != context.DeadlineExceeded || r.p != nil {
			t.Fatalf("Lock = (%p, %v), want (nil, context.DeadlineExceeded)", r.p, r.err)
		}
		if d := r.at.Sub(start); d != time.Hour {
			t.Fatalf("Lock gave up after %v, want exactly %v", d, time.Hour)
		}
		lockWantWaiters(t, m, 0)
		lockWantLocked(t, m, true) // still the holder's
		m.Unlock()
		lockWantLocked(t, m, false)
	})
}

// The zero Mutex is unlocked, holds the zero T, and works like NewMutex.
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
		w := lockAsync(t.Context(), m.Lock)
		synctest.Wait()
		lockPending(t, w, "Lock on a held zero Mutex")
		lockWantWaiters(t, &m, 1)
		m.Unlock()
		synctest.Wait()
		if pw := lockAcquired(t, w, "waiter after Unlock"); pw != p || *pw != "set" {
			t.Fatalf("waiter got %p (%q), want %p (\"set\")", pw, *pw, p)
		}
		m.Unlock()
		lockWantLocked(t, &m, false)
	})
}

// Lock returns a pointer to the value the Mutex owns: NewMutex(v) holds a copy
// of v, every holder gets the same pointer, and writes are seen by the next
// holder.
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
	lockMustPanic(t, "Unlock of a zero Mutex", zero.Unlock)
	m := gate.NewMutex(0)
	lockMustPanic(t, "Unlock of a new Mutex", m.Unlock)
	if _, ok := m.TryLock(); !ok {
		t.Fatal("TryLock failed")
	}
	m.Unlock()
	lockMustPanic(t, "second Unlock", m.Unlock)
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
			a := lockAsync(ctx, m.Lock)
			synctest.Wait()
			var b <-chan lockResult[int]
			next := i%2 == 1
			if next {
				b = lockAsync(t.Context(), m.Lock)
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
			r := <-a
			switch {
			case r.err == nil:
				if r.p == nil {
					t.Fatalf("iteration %d: Lock = (nil, nil)", i)
				}
				lockWantLocked(t, m, true)
				if next {
					lockPending(t, b, "next waiter while the first holds m")
				}
				m.Unlock()
				if next {
					synctest.Wait()
					lockAcquired(t, b, "next waiter")
					m.Unlock()
				}
			case r.err == context.Canceled && r.p == nil:
				if next {
					lockAcquired(t, b, "next waiter after the first gave up")
					lockWantLocked(t, m, true)
					m.Unlock()
				}
			default:
				t.Fatalf("iteration %d: Lock = (%p, %v), want the lock or (nil, context.Canceled)", i, r.p, r.err)
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

// Real concurrency under -race: goroutines lock with contexts that are
// cancelled before, during and after the wait (timers and explicit cancels
// racing with hand-offs). Mutual exclusion holds, every successful Lock is
// counted in the value (the race detector checks that each Unlock publishes
// the holder's writes), and at the end the mutex is unlocked with no waiter.
func TestMutexCancelStress(t *testing.T) {
	m := gate.NewMutex(0)
	goroutines, iters := 8, 400
	if testing.Short() {
		iters = 50
	}
	// A lost lock would park the goroutines whose ctx is never cancelled:
	// the watchdog turns that hang into a failure.
	watchdog, stop := context.WithTimeout(t.Context(), lockStressWatchdog)
	defer stop()
	var inside, acquired atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 42))
			for range iters {
				var ctx context.Context
				var cancel context.CancelFunc
				switch r.IntN(4) {
				case 0:
					ctx, cancel = context.WithCancel(watchdog)
					cancel()
				case 1:
					ctx, cancel = context.WithCancel(watchdog)
					wg.Go(func() { runtime.Gosched(); cancel() })
				case 2:
					ctx, cancel = context.WithTimeout(watchdog, time.Duration(r.IntN(50))*time.Microsecond)
				default:
					ctx, cancel = context.WithCancel(watchdog)
				}
				p, err := m.Lock(ctx)
				if err != nil {
					if p != nil || (err != context.Canceled && err != context.DeadlineExceeded) {
						t.Errorf("Lock = (%p, %v), want the lock or ctx.Err()", p, err)
					}
					cancel()
					continue
				}
				if n := inside.Add(1); n != 1 {
					t.Errorf("%d goroutines hold the mutex", n)
				}
				*p++
				acquired.Add(1)
				if r.IntN(4) == 0 {
					runtime.Gosched()
				}
				inside.Add(-1)
				m.Unlock()
				cancel()
			}
		})
	}
	wg.Wait()
	if watchdog.Err() != nil {
		t.Fatalf("the stress did not finish within %v: a lock was lost", lockStressWatchdog)
	}
	lockWantWaiters(t, m, 0)
	lockWantLocked(t, m, false)
	p, ok := m.TryLock()
	if !ok {
		t.Fatal("the mutex is stuck locked")
	}
	if int64(*p) != acquired.Load() {
		t.Fatalf("value = %d, want %d (one increment per successful Lock)", *p, acquired.Load())
	}
	if acquired.Load() == 0 {
		t.Fatal("no Lock succeeded")
	}
	m.Unlock()
}

// ---------------------------------------------------------------------------
// Ports of tokio tests/sync_rwlock.rs.

// tokio: sync_rwlock.rs into_inner. There is no IntoInner; the RWMutex owns the
// value it was created with.
func TestRWMutexOwnsInitialValue(t *testing.T) {
	rw := gate.NewRWMutex(42)
	p, ok := rw.TryLock()
	if !ok || *p != 42 {
		t.Fatalf("TryLock = (%v, %v), want 42", p, ok)
	}
	rw.Unlock()
}

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

// tokio: sync_rwlock.rs write_shared_pending: a write waits while a read is held.
func TestRWMutexWriteSharedPending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rw := gate.NewRWMutex(100)
		if _, err := rw.RLock(t.Context()); err != nil {
			t.Fatal(err)
		}
		w := lockAsync(t.Context(), rw.Lock)
		synctest.Wait()
		lockPending(t, w, "Lock while read-locked")
		lockWantRWWaiters(t, rw, 1)
	})
}

// tokio: sync_rwlock.rs read_exclusive_pending: a read waits while a write is held.
func TestRWMutexReadExclusivePending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rw := gate.NewRWMutex(100)
		if _, err := rw.Lock(t.Context()); err != nil {
			t.Fatal(err)
		}
		r := lockAsync(t.Context(), rw.RLock)
		synctest.Wait()
		lockPending(t, r, "RLock while write-locked")
		lockWantRWWaiters(t, rw, 1)
	})
}

// tokio: sync_rwlock.rs exhaust_reading: with 1024 max readers, reads succeed
// until 1024 are held; the next waits, and an RUnlock wakes it.
func TestRWMutexExhaustReading(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rw := gate.NewRWMutexMaxReaders(100, 1024)
		reads := 0
		for {
			// "Poll once": TryRLock fails iff RLock would wait.
			if _, ok := rw.TryRLock(); !ok {
				break
			}
			if reads++; reads > 2000 {
				t.Fatal("more than 2000 readers admitted with max 1024")
			}
		}
		if reads != 1024 {
			t.Fatalf("%d readers admitted, want 1024", reads)
		}
		t1 := lockAsync(t.Context(), rw.RLock)
		synctest.Wait()
		lockPending(t, t1, "reader 1025")
		rw.RUnlock()
		synctest.Wait()
		lockAcquired(t, t1, "reader 1025 after an RUnlock")
		lockWantAvailable(t, rw, 0)
		for range 1024 {
			rw.RUnlock()
		}
		lockWantAvailable(t, rw, 1024)
	})
}

// tokio: sync_rwlock.rs zero_max_readers and zero_max_readers_const (one Go
// constructor), plus the other ends of the range.
func TestRWMutexMaxReadersOutOfRangePanics(t *testing.T) {
	for _, n := range []int{0, -1, gate.MaxReaders + 1, math.MinInt} {
		lockMustPanic(t, fmt.Sprintf("NewRWMutexMaxReaders(_, %d)", n), func() { gate.NewRWMutexMaxReaders(0, n) })
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
		w := lockAsync(t.Context(), rw.Lock)
		synctest.Wait()
		lockPending(t, w, "Lock while write-locked")
		lockWantRWWaiters(t, rw, 1)
	})
}

// tokio: sync_rwlock.rs write_shared_drop: the pending write gets the lock
// when the read is released.
func TestRWMutexWriteSharedDrop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rw := gate.NewRWMutex(100)
		if _, err := rw.RLock(t.Context()); err != nil {
			t.Fatal(err)
		}
		w := lockAsync(t.Context(), rw.Lock)
		synctest.Wait()
		lockPending(t, w, "Lock while read-locked")
		rw.RUnlock()
		synctest.Wait()
		lockAcquired(t, w, "Lock after RUnlock")
		lockWantAvailable(t, rw, 0)
		rw.Unlock()
		lockWantAvailable(t, rw, gate.MaxReaders)
	})
}

// tokio: sync_rwlock.rs write_read_shared_pending: while reads are held, a
// queued write blocks the reads that come after it.
func TestRWMutexWriteReadSharedPending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rw := gate.NewRWMutex(100)
		ready := t.Context() // in a bubble: a wait would deadlock it
		if _, err := rw.RLock(ready); err != nil {
			t.Fatal(err)
		}
		if _, err := rw.RLock(ready); err != nil {
			t.Fatalf("second RLock = %v, want the lock at once", err)
		}
		t3 := lockAsync(t.Context(), rw.Lock)
		synctest.Wait()
		lockPending(t, t3, "Lock while read-locked")
		t4 := lockAsync(t.Context(), rw.RLock)
		synctest.Wait()
		lockPending(t, t4, "RLock behind a queued Lock")
		lockWantRWWaiters(t, rw, 2)
	})
}

// tokio: sync_rwlock.rs write_read_shared_drop_pending: cancelling the queued
// write lets the read behind it in.
func TestRWMutexWriteReadSharedDropPending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rw := gate.NewRWMutex(100)
		if _, err := rw.RLock(t.Context()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		t2 := lockAsync(ctx, rw.Lock)
		synctest.Wait()
		lockPending(t, t2, "Lock while read-locked")
		t3 := lockAsync(t.Context(), rw.RLock)
		synctest.Wait()
		lockPending(t, t3, "RLock behind a queued Lock")
		cancel()
		synctest.Wait()
		lockFailed(t, t2, context.Canceled, "cancelled Lock")
		if p := lockAcquired(t, t3, "RLock after the queued Lock was cancelled"); *p != 100 {
			t.Fatalf("reader sees %d, want 100", *p)
		}
		lockWantRWWaiters(t, rw, 0)
		lockWantAvailable(t, rw, gate.MaxReaders-2)
		rw.RUnlock()
		rw.RUnlock()
		lockWantAvailable(t, rw, gate.MaxReaders)
	})
}

// tokio: sync_rwlock.rs read_uncontested.
func TestRWMutexReadUncontested(t *testing.T) {
	rw := gate.NewRWMutex(100)
	p, err := rw.RLock(t.Context())
	if err != nil || *p != 100 {
		t.Fatalf("RLock = (%v, %v), want 100", p, err)
	}
	rw.RUnlock()
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

// tokio: sync_rwlock.rs write_order: writes are granted in the order in which
// they started waiting (in tokio, first polled; in Go, first called).
func TestRWMutexWriteOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rw := gate.NewRWMutex([]int(nil))
		if _, err := rw.Lock(t.Context()); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{}, 2)
		for _, id := range []int{1, 2} {
			go func() {
				defer func() { done <- struct{}{} }()
				p, err := rw.Lock(t.Context())
				if err != nil {
					t.Errorf("writer %d: %v", id, err)
					return
				}
				*p = append(*p, id)
				rw.Unlock()
			}()
			synctest.Wait()
		}
		lockWantRWWaiters(t, rw, 2)
		rw.Unlock()
		<-done
		<-done
		p, err := rw.RLock(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(*p, []int{1, 2}) {
			t.Fatalf("write order = %v, want [1 2]", *p)
		}
		rw.RUnlock()
	})
}

// tokio: sync_rwlock.rs multithreaded: four goroutines write 1000 times each,
// adding 2, 3, 5 and 7: the value ends at 17000. (tokio waits on a Barrier;
// a WaitGroup does the same here.)
func TestRWMutexMultithreaded(t *testing.T) {
	rw := gate.NewRWMutex(0)
	var wg sync.WaitGroup
	for _, add := range []int{2, 3, 5, 7} {
		wg.Go(func() {
			for range 1000 {
				p, err := rw.Lock(t.Context())
				if err != nil {
					t.Error(err)
					return
				}
				*p += add
				rw.Unlock()
			}
		})
	}
	wg.Wait()
	p, err := rw.RLock(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if *p != 17000 {
		t.Fatalf("value = %d, want 17000", *p)
	}
	rw.RUnlock()
}

// tokio: sync_rwlock.rs try_write.
func TestRWMutexTryWrite(t *testing.T) {
	rw := gate.NewRWMutex(0)
	if _, err := rw.RLock(t.Context()); err != nil {
		t.Fatal(err)
	}
	if p, ok := rw.TryLock(); ok || p != nil {
		t.Fatalf("TryLock while read-locked = (%p, %v), want (nil, false)", p, ok)
	}
	rw.RUnlock()
	if _, ok := rw.TryLock(); !ok {
		t.Fatal("TryLock after RUnlock failed")
	}
	rw.Unlock()
}

// tokio: sync_rwlock.rs try_read_try_write.
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

// tokio: sync_rwlock.rs downgrade_map (Go: Downgrade; a map is the caller's
// business): the pending read stays pending while the write lock is held, and
// gets in at Downgrade, with the same pointer.
func TestRWMutexDowngradeMap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rw := gate.NewRWMutex(0)
		wp, err := rw.Lock(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		r := lockAsync(t.Context(), rw.RLock)
		synctest.Wait()
		// We can't read while a write exists.
		lockPending(t, r, "RLock while write-locked")
		// During the "map" (still write-locked), the reader has no access yet.
		*wp = 5
		synctest.Wait()
		lockPending(t, r, "RLock before Downgrade")
		rw.Downgrade()
		synctest.Wait()
		// After the downgrade, the reader got the lock: the same value.
		rp := lockAcquired(t, r, "RLock after Downgrade")
		if rp != wp || *rp != 5 {
			t.Fatalf("reader got %p (%d), want the writer's %p (5)", rp, *rp, wp)
		}
		lockWantAvailable(t, rw, gate.MaxReaders-2)
		rw.RUnlock()
		rw.RUnlock()
		lockWantAvailable(t, rw, gate.MaxReaders)
	})
}

// tokio: sync_rwlock.rs try_downgrade_map. Its None case ("f declines, the
// write lock is kept") is, in Go, a writer that decides not to call
// Downgrade: the write lock stays exclusive and the reader pending. Its Some
// case is Downgrade: the reader gets in with the same pointer.
func TestRWMutexTryDowngradeMap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rw := gate.NewRWMutex(0)
		wp, err := rw.Lock(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		r := lockAsync(t.Context(), rw.RLock)
		synctest.Wait()
		lockPending(t, r, "RLock while write-locked")
		// None: no downgrade; the write lock is kept.
		synctest.Wait()
		lockPending(t, r, "RLock after a declined downgrade")
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
		if rp := lockAcquired(t, r, "RLock after Downgrade"); rp != wp || *rp != 7 {
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
func TestRWMutexFIFOMixed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rw := gate.NewRWMutex(0)
		ctx := t.Context()
		if _, err := rw.Lock(ctx); err != nil {
			t.Fatal(err)
		}
		queue := func(lock func(context.Context) (*int, error)) <-chan lockResult[int] {
			ch := lockAsync(ctx, lock)
			synctest.Wait()
			return ch
		}
		r1 := queue(rw.RLock)
		r2 := queue(rw.RLock)
		w1 := queue(rw.Lock)
		r3 := queue(rw.RLock)
		r4 := queue(rw.RLock)
		w2 := queue(rw.Lock)
		lockWantRWWaiters(t, rw, 6)

		rw.Unlock()
		synctest.Wait()
		lockAcquired(t, r1, "r1")
		lockAcquired(t, r2, "r2")
		lockPending(t, w1, "w1 while r1 and r2 read")
		lockPending(t, r3, "r3 behind w1")
		lockPending(t, r4, "r4 behind w1")
		lockPending(t, w2, "w2")
		lockWantRWWaiters(t, rw, 4)
		lockWantAvailable(t, rw, 0)

		rw.RUnlock()
		synctest.Wait()
		lockPending(t, w1, "w1 while r2 reads")
		rw.RUnlock()
		synctest.Wait()
		p := lockAcquired(t, w1, "w1 after both readers left")
		*p = 1
		lockPending(t, r3, "r3 while w1 writes")
		lockPending(t, r4, "r4 while w1 writes")

		rw.Unlock()
		synctest.Wait()
		if p := lockAcquired(t, r3, "r3"); *p != 1 {
			t.Fatalf("r3 sees %d, want 1", *p)
		}
		lockAcquired(t, r4, "r4")
		lockPending(t, w2, "w2 while r3 and r4 read")
		lockWantRWWaiters(t, rw, 1)

		rw.RUnlock()
		rw.RUnlock()
		synctest.Wait()
		lockAcquired(t, w2, "w2")
		lockWantRWWaiters(t, rw, 0)
		rw.Unlock()
		lockWantAvailable(t, rw, gate.MaxReaders)
	})
}

// Write-preferring: a queued writer blocks the readers that come after it,
// TryRLock included, and gets the lock when the earlier readers leave.
func TestRWMutexWritePreferring(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rw := gate.NewRWMutex(0)
		for range 2 {
			if _, err := rw.RLock(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		w := lockAsync(t.Context(), rw.Lock)
		synctest.Wait()
		lockPending(t, w, "writer while read-locked")
		if p, ok := rw.TryRLock(); ok || p != nil {
			t.Fatalf("TryRLock with a writer queued = (%p, %v), want (nil, false)", p, ok)
		}
		if p, err := rw.RLock(lockDoneCtx(t.Context())); err != context.Canceled || p != nil {
			t.Fatalf("RLock(cancelled ctx) with a writer queued = (%p, %v), want (nil, context.Canceled)", p, err)
		}
		if _, ok := rw.TryLock(); ok {
			t.Fatal("TryLock succeeded while read-locked")
		}
		r := lockAsync(t.Context(), rw.RLock)
		synctest.Wait()
		lockPending(t, r, "reader behind the queued writer")
		lockWantRWWaiters(t, rw, 2)

		rw.RUnlock()
		synctest.Wait()
		lockPending(t, w, "writer while one reader is left")
		lockPending(t, r, "reader behind the queued writer")
		rw.RUnlock()
		synctest.Wait()
		lockAcquired(t, w, "writer after the readers left")
		lockPending(t, r, "reader while the writer holds")
		rw.Unlock()
		synctest.Wait()
		lockAcquired(t, r, "reader after the writer's Unlock")
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
		w := lockAsync(t.Context(), rw.Lock)
		synctest.Wait()
		rw.Unlock()
		if _, ok := rw.TryLock(); ok {
			t.Fatal("TryLock right after Unlock took the lock from the queued writer")
		}
		if _, ok := rw.TryRLock(); ok {
			t.Fatal("TryRLock right after Unlock took the lock from the queued writer")
		}
		if _, err := rw.RLock(lockDoneCtx(t.Context())); err != context.Canceled {
			t.Fatalf("RLock(cancelled ctx) right after Unlock = %v, want context.Canceled", err)
		}
		synctest.Wait()
		lockAcquired(t, w, "queued writer")
		lockWantRWWaiters(t, rw, 0)

		// The same with the last reader's RUnlock.
		rw.Unlock()
		if _, err := rw.RLock(t.Context()); err != nil {
			t.Fatal(err)
		}
		w2 := lockAsync(t.Context(), rw.Lock)
		synctest.Wait()
		rw.RUnlock()
		if _, ok := rw.TryRLock(); ok {
			t.Fatal("TryRLock right after RUnlock took the lock from the queued writer")
		}
		if _, ok := rw.TryLock(); ok {
			t.Fatal("TryLock right after RUnlock took the lock from the queued writer")
		}
		synctest.Wait()
		lockAcquired(t, w2, "queued writer after RUnlock")
		rw.Unlock()
		lockWantAvailable(t, rw, gate.MaxReaders)
	})
}

// RLock and Lock given a done ctx return (nil, ctx.Err()) at once and keep
// nothing (no lock, no partial grant, no place in the queue), whether they
// could have completed at once or would have waited.
func TestRWMutexDoneCtx(t *testing.T) {
	rw := gate.NewRWMutexMaxReaders(0, 4)
	done := lockDoneCtx(t.Context())
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
			r := lockAsync(ctx, rw.RLock)
			synctest.Wait()
			cancel(errors.New("cause"))
			synctest.Wait()
			lockFailed(t, r, context.Canceled, "cancelled RLock")
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
			w := lockAsync(ctx, rw.Lock)
			synctest.Wait()
			lockWantAvailable(t, rw, 0) // the writer holds 4 as a partial grant
			cancel()
			synctest.Wait()
			lockFailed(t, w, context.Canceled, "cancelled Lock")
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
	t.Run("writer with readers behind", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			rw := gate.NewRWMutexMaxReaders(0, 5)
			if _, err := rw.RLock(t.Context()); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			w := lockAsync(ctx, rw.Lock)
			synctest.Wait()
			r1 := lockAsync(t.Context(), rw.RLock)
			r2 := lockAsync(t.Context(), rw.RLock)
			synctest.Wait()
			lockPending(t, r1, "r1 behind the writer")
			lockPending(t, r2, "r2 behind the writer")
			cancel()
			synctest.Wait()
			lockFailed(t, w, context.Canceled, "cancelled Lock")
			lockAcquired(t, r1, "r1 after the writer left")
			lockAcquired(t, r2, "r2 after the writer left")
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
			w1 := lockAsync(ctx, rw.Lock)
			synctest.Wait()
			w2 := lockAsync(t.Context(), rw.Lock)
			synctest.Wait()
			cancel()
			synctest.Wait()
			lockFailed(t, w1, context.Canceled, "cancelled head writer")
			lockPending(t, w2, "second writer while read-locked")
			lockWantRWWaiters(t, rw, 1)
			if _, ok := rw.TryRLock(); ok {
				t.Fatal("TryRLock succeeded with a writer queued")
			}
			rw.RUnlock()
			synctest.Wait()
			lockAcquired(t, w2, "second writer after RUnlock")
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
			w1 := lockAsync(t.Context(), rw.Lock)
			synctest.Wait()
			ctx, cancel := context.WithCancel(t.Context())
			w2 := lockAsync(ctx, rw.Lock)
			synctest.Wait()
			r := lockAsync(t.Context(), rw.RLock)
			synctest.Wait()
			cancel()
			synctest.Wait()
			lockFailed(t, w2, context.Canceled, "cancelled second writer")
			lockPending(t, w1, "first writer while read-locked")
			lockPending(t, r, "reader behind the first writer")
			lockWantRWWaiters(t, rw, 2)
			rw.RUnlock()
			synctest.Wait()
			lockAcquired(t, w1, "first writer")
			lockPending(t, r, "reader while the first writer holds")
			rw.Unlock()
			synctest.Wait()
			lockAcquired(t, r, "reader")
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
		w := lockAsync(t.Context(), rw.Lock)
		synctest.Wait()
		lockPending(t, w, "writer while read-locked")
		for range n {
			rw.RUnlock()
		}
		synctest.Wait()
		p := lockAcquired(t, w, "writer after the readers left")
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

// MaxReaders is tokio's MAX_READS, u32::MAX >> 3.
func TestRWMutexMaxReadersConstant(t *testing.T) {
	const want = 1<<29 - 1
	if want != math.MaxUint32>>3 {
		t.Fatal("1<<29-1 is not u32::MAX >> 3")
	}
	if gate.MaxReaders != want {
		t.Fatalf("MaxReaders = %d, want 1<<29-1", gate.MaxReaders)
	}
}

// NewRWMutexMaxReaders(v, n) admits n readers; the next one waits (TryRLock
// fails) until one leaves.
func TestRWMutexMaxReaders(t *testing.T) {
	for _, n := range []int{1, 3} {
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
				extra := lockAsync(t.Context(), rw.RLock)
				synctest.Wait()
				lockPending(t, extra, "reader n+1")
				rw.RUnlock()
				synctest.Wait()
				lockAcquired(t, extra, "reader n+1 after an RUnlock")
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
		w := lockAsync(t.Context(), rw.Lock)
		synctest.Wait()
		rw.Downgrade()
		synctest.Wait()
		lockPending(t, w, "writer after Downgrade")
		if _, ok := rw.TryRLock(); ok {
			t.Fatal("TryRLock succeeded with a writer first in the queue")
		}
		r := lockAsync(t.Context(), rw.RLock)
		synctest.Wait()
		lockPending(t, r, "reader behind the queued writer")
		rw.RUnlock()
		synctest.Wait()
		lockAcquired(t, w, "writer after the downgraded lock's RUnlock")
		rw.Unlock()
		synctest.Wait()
		lockAcquired(t, r, "reader after the writer")
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
		queue := func(lock func(context.Context) (*int, error)) <-chan lockResult[int] {
			ch := lockAsync(t.Context(), lock)
			synctest.Wait()
			return ch
		}
		r1 := queue(rw.RLock)
		r2 := queue(rw.RLock)
		w := queue(rw.Lock)
		r3 := queue(rw.RLock)
		rw.Downgrade()
		synctest.Wait()
		lockAcquired(t, r1, "r1 after Downgrade")
		lockAcquired(t, r2, "r2 after Downgrade")
		lockPending(t, w, "writer while three readers hold")
		lockPending(t, r3, "r3 behind the writer")
		lockWantRWWaiters(t, rw, 2)
		for range 3 {
			rw.RUnlock()
		}
		synctest.Wait()
		lockAcquired(t, w, "writer after the readers left")
		lockPending(t, r3, "r3 while the writer holds")
		rw.Unlock()
		synctest.Wait()
		lockAcquired(t, r3, "r3")
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
		r := lockAsync(t.Context(), rw.RLock)
		synctest.Wait()
		rw.Downgrade()
		synctest.Wait()
		lockPending(t, r, "reader beyond max 1 after Downgrade")
		if _, ok := rw.TryRLock(); ok {
			t.Fatal("TryRLock succeeded beyond max 1")
		}
		rw.RUnlock()
		synctest.Wait()
		lockAcquired(t, r, "reader after the downgraded lock's RUnlock")
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
		lockMustPanic(t, "RUnlock of a zero RWMutex", rw.RUnlock)
		lockWantAvailable(t, &rw, gate.MaxReaders)
	})
	t.Run("unlocked", func(t *testing.T) {
		rw := gate.NewRWMutexMaxReaders(0, 3)
		lockMustPanic(t, "RUnlock of a new RWMutex", rw.RUnlock)
		if _, ok := rw.TryRLock(); !ok {
			t.Fatal("TryRLock failed")
		}
		rw.RUnlock()
		lockMustPanic(t, "second RUnlock", rw.RUnlock)
		lockWantAvailable(t, rw, 3)
	})
}

// Unlock of an RWMutex that is not write-locked panics with "gate: ...".
func TestRWMutexUnlockNotWriteLockedPanics(t *testing.T) {
	t.Run("zero value", func(t *testing.T) {
		var rw gate.RWMutex[int]
		lockMustPanic(t, "Unlock of a zero RWMutex", rw.Unlock)
	})
	t.Run("unlocked", func(t *testing.T) {
		rw := gate.NewRWMutex(0)
		lockMustPanic(t, "Unlock of a new RWMutex", rw.Unlock)
		if _, ok := rw.TryLock(); !ok {
			t.Fatal("TryLock failed")
		}
		rw.Unlock()
		lockMustPanic(t, "second Unlock", rw.Unlock)
		lockWantAvailable(t, rw, gate.MaxReaders)
	})
	t.Run("read-locked", func(t *testing.T) {
		rw := gate.NewRWMutex(0)
		if _, ok := rw.TryRLock(); !ok {
			t.Fatal("TryRLock failed")
		}
		lockMustPanic(t, "Unlock of a read-locked RWMutex", rw.Unlock)
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
			w := lockAsync(t.Context(), rw.Lock)
			synctest.Wait()
			lockMustPanic(t, "Unlock of a read-locked RWMutex with a writer queued", rw.Unlock)
			synctest.Wait()
			lockPending(t, w, "writer after the bad Unlock")
			rw.RUnlock()
			synctest.Wait()
			lockAcquired(t, w, "writer after RUnlock")
			rw.Unlock()
		})
	})
}

// Downgrade of an RWMutex that is not write-locked panics with "gate: ...".
func TestRWMutexDowngradeNotWriteLockedPanics(t *testing.T) {
	t.Run("unlocked", func(t *testing.T) {
		var zero gate.RWMutex[int]
		lockMustPanic(t, "Downgrade of a zero RWMutex", zero.Downgrade)
		rw := gate.NewRWMutexMaxReaders(0, 1)
		lockMustPanic(t, "Downgrade of an unlocked RWMutex with maxReaders 1", rw.Downgrade)
		lockWantAvailable(t, rw, 1)
	})
	t.Run("read-locked", func(t *testing.T) {
		rw := gate.NewRWMutex(0)
		if _, ok := rw.TryRLock(); !ok {
			t.Fatal("TryRLock failed")
		}
		lockMustPanic(t, "Downgrade of a read-locked RWMutex", rw.Downgrade)
		lockWantAvailable(t, rw, gate.MaxReaders-1)
		rw.RUnlock()
	})
	t.Run("already downgraded", func(t *testing.T) {
		rw := gate.NewRWMutex(0)
		if _, ok := rw.TryLock(); !ok {
			t.Fatal("TryLock failed")
		}
		rw.Downgrade()
		lockMustPanic(t, "second Downgrade", rw.Downgrade)
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
			a := lockAsync(ctx, first)
			synctest.Wait()
			var b <-chan lockResult[int]
			if next {
				b = lockAsync(t.Context(), second)
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
			r := <-a
			switch {
			case r.err == nil && r.p != nil:
				if next {
					lockPending(t, b, "waiter behind the first while it holds")
				}
				if writerFirst {
					rw.Unlock()
				} else {
					rw.RUnlock()
				}
				if next {
					synctest.Wait()
					lockAcquired(t, b, "waiter behind the first")
				}
			case r.err == context.Canceled && r.p == nil:
				if next {
					lockAcquired(t, b, "waiter behind the cancelled one")
				}
			default:
				t.Fatalf("iteration %d: first waiter = (%p, %v), want the lock or (nil, context.Canceled)", i, r.p, r.err)
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

// Real concurrency under -race: readers, writers and downgrading writers with
// contexts cancelled before, during and after their wait. At most maxReaders
// readers and never a reader with a writer; at the end every permit is back.
func TestRWMutexCancelStress(t *testing.T) {
	const maxReaders = 3
	rw := gate.NewRWMutexMaxReaders(0, maxReaders)
	goroutines, iters := 8, 400
	if testing.Short() {
		iters = 50
	}
	watchdog, stop := context.WithTimeout(t.Context(), lockStressWatchdog)
	defer stop()
	var readers, writers, writes atomic.Int64
	var wg sync.WaitGroup
	checkRead := func() {
		if n := readers.Add(1); n > maxReaders {
			t.Errorf("%d readers hold the lock, max %d", n, maxReaders)
		}
		if writers.Load() != 0 {
			t.Error("a reader holds the lock with a writer")
		}
	}
	for g := range goroutines {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 7))
			for range iters {
				var ctx context.Context
				var cancel context.CancelFunc
				switch r.IntN(4) {
				case 0:
					ctx, cancel = context.WithCancel(watchdog)
					cancel()
				case 1:
					ctx, cancel = context.WithCancel(watchdog)
					wg.Go(func() { runtime.Gosched(); cancel() })
				case 2:
					ctx, cancel = context.WithTimeout(watchdog, time.Duration(r.IntN(50))*time.Microsecond)
				default:
					ctx, cancel = context.WithCancel(watchdog)
				}
				switch op := r.IntN(3); op {
				case 0: // reader
					p, err := rw.RLock(ctx)
					if err != nil {
						if p != nil || (err != context.Canceled && err != context.DeadlineExceeded) {
							t.Errorf("RLock = (%p, %v)", p, err)
						}
						break
					}
					checkRead()
					_ = *p
					runtime.Gosched()
					readers.Add(-1)
					rw.RUnlock()
				default: // writer, downgrading when op == 2
					p, err := rw.Lock(ctx)
					if err != nil {
						if p != nil || (err != context.Canceled && err != context.DeadlineExceeded) {
							t.Errorf("Lock = (%p, %v)", p, err)
						}
						break
					}
					if n := writers.Add(1); n != 1 || readers.Load() != 0 {
						t.Errorf("a writer holds the lock with %d writers and %d readers", n, readers.Load())
					}
					*p++
					writes.Add(1)
					writers.Add(-1)
					if op == 2 {
						checkRead() // a downgraded writer is a reader: the count includes it
						rw.Downgrade()
						_ = *p
						readers.Add(-1)
						rw.RUnlock()
					} else {
						rw.Unlock()
					}
				}
				cancel()
			}
		})
	}
	wg.Wait()
	if watchdog.Err() != nil {
		t.Fatalf("the stress did not finish within %v: a lock was lost", lockStressWatchdog)
	}
	lockWantRWWaiters(t, rw, 0)
	lockWantAvailable(t, rw, maxReaders)
	p, ok := rw.TryLock()
	if !ok {
		t.Fatal("the RWMutex is stuck")
	}
	if int64(*p) != writes.Load() || writes.Load() == 0 {
		t.Fatalf("value = %d, want %d successful writes (> 0)", *p, writes.Load())
	}
	rw.Unlock()
}

package gate_test

// Stress tests with cancellation storms (layer 4 of TESTING.md).
//
// Many goroutines hammer one primitive with random requests whose contexts
// end at random: no deadline, already expired, a deadline of a few
// microseconds, or a cancel from another goroutine. Safety is checked with
// atomic counters around every critical section (they count only what is
// certainly held: incremented after the acquire returns, decremented before
// the release), conservation at the end (every permit back, nothing queued),
// and the race detector checks that the value a lock owns is handed over with
// a happens-before edge. The NoBarging tests check FIFO fairness against the
// Try calls while permits are being handed to a queued waiter. No assertion
// depends on timing.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gophergate/gate"
	"go.uber.org/goleak"
)

// stormScale returns n, or n/10 in -short mode.
func stormScale(n int) int {
	if testing.Short() {
		return max(n/10, 1)
	}
	return n
}

// A storm hands out contexts that end at random and runs the goroutines that
// cancel some of them.
type storm struct {
	cancels chan context.CancelFunc
	wg      sync.WaitGroup
}

// newStorm starts the cancelling goroutines; stop ends them.
func newStorm(cancellers int) *storm {
	st := &storm{cancels: make(chan context.CancelFunc, 64)}
	for range cancellers {
		st.wg.Go(func() {
			for cancel := range st.cancels {
				runtime.Gosched() // let the call get going first, sometimes
				cancel()
			}
		})
	}
	return st
}

func (st *storm) stop() {
	close(st.cancels)
	st.wg.Wait()
}

// ctx returns a context for one call; the caller calls cancel after the call.
func (st *storm) ctx(r *rand.Rand) (context.Context, context.CancelFunc) {
	switch k := r.IntN(10); {
	case k < 3: // never ends
		return context.Background(), func() {}
	case k < 4: // already ended: must not matter if the call need not wait
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return ctx, cancel
	case k < 7: // a tiny deadline, possibly already passed
		return context.WithTimeout(context.Background(), time.Duration(r.IntN(50))*time.Microsecond)
	default: // cancelled by another goroutine at some point
		ctx, cancel := context.WithCancel(context.Background())
		select {
		case st.cancels <- cancel:
		default: // the cancellers are busy: this one ends when the call is over
		}
		return ctx, cancel
	}
}

// checkStormErr reports err unless it is nil, one of allowed, or ctx.Err()
// itself (unwrapped) with ctx done. It must run before the caller's cancel.
// The stress and linearizability tests share it.
func checkStormErr(t *testing.T, what string, ctx context.Context, err error, allowed ...error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, a := range allowed {
		if err == a {
			return
		}
	}
	if ctxErr := ctx.Err(); ctxErr == nil || err != ctxErr {
		t.Errorf("%s: unexpected error %v (ctx.Err() = %v)", what, err, ctxErr)
	}
}

// stallTimeout is how long waitLive waits before it calls the run stuck:
// a hundred times what a whole run takes under -race, so that no slow machine
// trips it; it only turns a hang into a report.
const stallTimeout = 2 * time.Minute

// waitLive waits for wg. If the goroutines are not done after stallTimeout,
// it fails t with state() and every goroutine's stack, leaving the stuck
// goroutines behind (goleak reports them too).
func waitLive(t *testing.T, wg *sync.WaitGroup, state func() string) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	timer := time.NewTimer(stallTimeout)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("not done after %v, a deadlock or livelock: %s\n%s", stallTimeout, state(), buf)
	}
}

func hold(r *rand.Rand) {
	for range r.IntN(3) {
		runtime.Gosched()
	}
}

// TestSemaphoreStressCancelStorm runs many goroutines that acquire random
// numbers of permits under a cancellation storm, with TryAcquireN, Split,
// Merge, Forget with AddPermits, and ForgetPermits then AddPermits mixed in;
// in the "close" variant one of them closes the semaphore midway. At most N
// permits are ever held, an acquire that starts after Close returned fails
// with ErrClosed, and in the end every permit is back and nobody is queued.
func TestSemaphoreStressCancelStorm(t *testing.T) {
	for _, tc := range []struct {
		name        string
		closeMidway bool
	}{{"open", false}, {"close", true}} {
		t.Run(tc.name, func(t *testing.T) { semaphoreStorm(t, tc.closeMidway) })
	}
	goleak.VerifyNone(t)
}

func semaphoreStorm(t *testing.T, closeMidway bool) {
	const permits = 8
	goroutines, iters := 24, stormScale(3000)
	seed := rand.Uint64()
	t.Logf("seed %d", seed)

	s := gate.NewSemaphore(permits)
	var held atomic.Int64     // permits certainly held (or forgotten from the count) now
	var closed atomic.Bool    // set once Close has returned
	var acquired atomic.Int64 // successful acquires, for the log
	var failed atomic.Int64   // acquires that failed with ctx.Err()
	st := newStorm(2)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(g)))
			for i := range iters {
				if closeMidway && g == 0 && i == iters/2 {
					s.Close()
					closed.Store(true)
				}
				if r.IntN(50) == 0 {
					// Take some free permits out of circulation for a moment.
					k := s.ForgetPermits(1 + r.IntN(3))
					if h := held.Add(int64(k)); h > permits {
						t.Errorf("%d permits held or forgotten, semaphore has %d", h, permits)
					}
					hold(r)
					held.Add(-int64(k))
					s.AddPermits(k)
				}
				n := 1 + r.IntN(permits)
				if r.IntN(2) == 0 {
					n = 1 + r.IntN(2)
				}
				wasClosed := closed.Load()
				ctx, cancel := st.ctx(r)
				var p gate.Permit
				var err error
				if r.IntN(4) == 0 {
					p, err = s.TryAcquireN(n)
					if err != nil && err != gate.ErrNoPermits && err != gate.ErrClosed {
						t.Errorf("TryAcquireN: unexpected error %v", err)
					}
				} else {
					p, err = s.AcquireN(ctx, n)
					checkStormErr(t, "AcquireN", ctx, err, gate.ErrClosed)
					if err != nil && err != gate.ErrClosed {
						failed.Add(1)
					}
				}
				cancel()
				if err == gate.ErrClosed && !closeMidway {
					t.Errorf("ErrClosed from an open semaphore")
				}
				if err != nil {
					if p.Count() != 0 {
						t.Errorf("failed acquire (%v) holds %d permits", err, p.Count())
					}
					continue
				}
				if wasClosed {
					t.Errorf("acquire of %d permits that started after Close succeeded", n)
				}
				acquired.Add(1)
				if p.Count() != n {
					t.Errorf("asked for %d permits, got %d", n, p.Count())
				}
				if h := held.Add(int64(n)); h > permits {
					t.Errorf("%d permits held at once, semaphore has %d", h, permits)
				}
				if r.IntN(8) == 0 {
					// Top up with one more permit if it is free now.
					if q, err := s.TryAcquireN(1); err == nil {
						if h := held.Add(1); h > permits {
							t.Errorf("%d permits held at once, semaphore has %d", h, permits)
						}
						p.Merge(&q)
						if q.Count() != 0 {
							t.Errorf("Merge left %d permits in its argument", q.Count())
						}
					}
				}
				hold(r)
				switch c := p.Count(); r.IntN(4) {
				case 0: // give them back in two parts
					q, ok := p.Split(r.IntN(c + 1))
					if !ok {
						t.Errorf("Split of at most Count() failed")
					}
					k := q.Count()
					held.Add(-int64(k))
					q.Release()
					hold(r)
					held.Add(-int64(p.Count()))
					p.Release()
				case 1: // forget them and add them back
					held.Add(-int64(c))
					p.Forget()
					s.AddPermits(c)
				default:
					held.Add(-int64(c))
					p.Release()
				}
				p.Release() // a second Release does nothing
			}
		})
	}
	waitLive(t, &wg, func() string {
		return fmt.Sprintf("Available()=%d waiters=%d head grant=%d held=%d",
			s.Available(), gate.SemaphoreWaiters(s), gate.SemaphoreHeadGrant(s), held.Load())
	})
	st.stop()
	if t.Failed() {
		return
	}
	t.Logf("%d acquires succeeded, %d failed with ctx.Err()", acquired.Load(), failed.Load())

	if got := s.Available(); got != permits {
		t.Errorf("Available() = %d at the end, want %d: permits not conserved", got, permits)
	}
	if w := gate.SemaphoreWaiters(s); w != 0 {
		t.Errorf("%d waiters left queued", w)
	}
	if g := gate.SemaphoreHeadGrant(s); g != 0 {
		t.Errorf("head grant %d left", g)
	}
	if closeMidway {
		if _, err := s.TryAcquireN(1); err != gate.ErrClosed {
			t.Errorf("TryAcquireN after Close = %v, want ErrClosed", err)
		}
		if _, err := s.AcquireN(context.Background(), 1); err != gate.ErrClosed {
			t.Errorf("AcquireN after Close = %v, want ErrClosed", err)
		}
	} else {
		p, err := s.TryAcquireN(permits)
		if err != nil {
			t.Errorf("TryAcquireN(%d) at the end = %v", permits, err)
		}
		p.Release()
	}
}

// TestMutexStressCancelStorm runs many goroutines that Lock (under a
// cancellation storm) or TryLock one Mutex[int] and increment the value it
// owns. At most one holds it at a time, no increment is lost, and in the end
// it is free with nobody queued.
func TestMutexStressCancelStorm(t *testing.T) {
	goroutines, iters := 16, stormScale(7500)
	seed := rand.Uint64()
	t.Logf("seed %d", seed)

	var m gate.Mutex[int]
	var inside atomic.Int32 // holders now
	var locked atomic.Int64 // successful Lock and TryLock calls
	var failed atomic.Int64 // Lock calls that failed with ctx.Err()
	st := newStorm(2)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(g)))
			for range iters {
				var p *int
				if r.IntN(4) == 0 {
					var ok bool
					if p, ok = m.TryLock(); !ok {
						if p != nil {
							t.Errorf("failed TryLock returned a pointer")
						}
						continue
					}
				} else {
					ctx, cancel := st.ctx(r)
					var err error
					p, err = m.Lock(ctx)
					checkStormErr(t, "Lock", ctx, err)
					cancel()
					if err != nil {
						failed.Add(1)
						if p != nil {
							t.Errorf("failed Lock returned a pointer")
						}
						continue
					}
				}
				if n := inside.Add(1); n != 1 {
					t.Errorf("%d goroutines hold the mutex at once", n)
				}
				*p++ // the race detector checks the hand-over
				locked.Add(1)
				hold(r)
				inside.Add(-1)
				m.Unlock()
			}
		})
	}
	waitLive(t, &wg, func() string {
		return fmt.Sprintf("locked=%v waiters=%d holders=%d",
			gate.MutexLocked(&m), gate.MutexWaiters(&m), inside.Load())
	})
	st.stop()
	if t.Failed() {
		return
	}
	t.Logf("%d locks, %d failed with ctx.Err()", locked.Load(), failed.Load())

	if w := gate.MutexWaiters(&m); w != 0 {
		t.Errorf("%d waiters left queued", w)
	}
	p, ok := m.TryLock()
	if !ok {
		t.Fatalf("TryLock fails at the end (locked=%v)", gate.MutexLocked(&m))
	}
	if int64(*p) != locked.Load() {
		t.Errorf("value %d after %d locked increments: an update was lost", *p, locked.Load())
	}
	m.Unlock()
	if gate.MutexLocked(&m) {
		t.Errorf("mutex still locked after the last Unlock")
	}
	goleak.VerifyNone(t)
}

// TestRWMutexStressCancelStorm runs many goroutines that take an RWMutex[int]
// for reading or writing, blocking under a cancellation storm or with the Try
// calls, and sometimes Downgrade the write lock. A writer is always alone,
// readers never exceed the maximum, no write is lost, and in the end the lock
// is free with nobody queued. It runs with one reader at most (where Downgrade
// keeps the single permit), with three, and with the zero value (MaxReaders).
func TestRWMutexStressCancelStorm(t *testing.T) {
	for _, tc := range []struct {
		name       string
		maxReaders int // 0: the zero value
	}{{"max=1", 1}, {"max=3", 3}, {"zero", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			rw := new(gate.RWMutex[int])
			if tc.maxReaders != 0 {
				rw = gate.NewRWMutexMaxReaders(0, tc.maxReaders)
			}
			rwMutexStorm(t, rw)
		})
	}
	goleak.VerifyNone(t)
}

func rwMutexStorm(t *testing.T, rw *gate.RWMutex[int]) {
	goroutines, iters := 16, stormScale(3000)
	maxReaders := int32(gate.RWMutexMaxReaders(rw))
	seed := rand.Uint64()
	t.Logf("seed %d", seed)

	var readers, writers atomic.Int32 // holders now
	var writes, reads, downgrades, failed atomic.Int64
	st := newStorm(2)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(g)))
			for range iters {
				k := r.IntN(10)
				write := k >= 6
				var p *int
				switch {
				case k == 5:
					var ok bool
					if p, ok = rw.TryRLock(); !ok {
						continue
					}
				case k == 9:
					var ok bool
					if p, ok = rw.TryLock(); !ok {
						continue
					}
				default:
					ctx, cancel := st.ctx(r)
					var err error
					if write {
						p, err = rw.Lock(ctx)
						checkStormErr(t, "Lock", ctx, err)
					} else {
						p, err = rw.RLock(ctx)
						checkStormErr(t, "RLock", ctx, err)
					}
					cancel()
					if err != nil {
						failed.Add(1)
						if p != nil {
							t.Errorf("failed lock returned a pointer")
						}
						continue
					}
				}
				if !write {
					if n := readers.Add(1); n > maxReaders {
						t.Errorf("%d readers at once, max %d", n, maxReaders)
					}
					if w := writers.Load(); w != 0 {
						t.Errorf("a reader got in while %d writers hold the lock", w)
					}
					_ = *p // the race detector checks that no writer runs now
					reads.Add(1)
					hold(r)
					readers.Add(-1)
					rw.RUnlock()
					continue
				}
				if n := writers.Add(1); n != 1 {
					t.Errorf("%d writers at once", n)
				}
				if n := readers.Load(); n != 0 {
					t.Errorf("a writer got in while %d readers hold the lock", n)
				}
				*p++
				writes.Add(1)
				hold(r)
				if r.IntN(3) == 0 {
					// Become a reader without letting a writer in: count
					// ourselves as a reader before we stop counting as the
					// writer (nobody else can hold the lock meanwhile).
					readers.Add(1)
					writers.Add(-1)
					rw.Downgrade()
					downgrades.Add(1)
					_ = *p
					hold(r)
					if w := writers.Load(); w != 0 {
						t.Errorf("a writer got in while a downgraded reader holds the lock")
					}
					readers.Add(-1)
					rw.RUnlock()
				} else {
					writers.Add(-1)
					rw.Unlock()
				}
			}
		})
	}
	waitLive(t, &wg, func() string {
		return fmt.Sprintf("available=%d waiters=%d readers=%d writers=%d",
			gate.RWMutexAvailable(rw), gate.RWMutexWaiters(rw), readers.Load(), writers.Load())
	})
	st.stop()
	if t.Failed() {
		return
	}
	t.Logf("%d writes (%d downgraded), %d reads, %d lock calls failed with ctx.Err()",
		writes.Load(), downgrades.Load(), reads.Load(), failed.Load())

	if w := gate.RWMutexWaiters(rw); w != 0 {
		t.Errorf("%d waiters left queued", w)
	}
	if a := gate.RWMutexAvailable(rw); a != int(maxReaders) {
		t.Errorf("%d read permits free at the end, want %d", a, maxReaders)
	}
	p, ok := rw.TryLock()
	if !ok {
		t.Fatalf("TryLock fails at the end")
	}
	if int64(*p) != writes.Load() {
		t.Errorf("value %d after %d writes: an update was lost", *p, writes.Load())
	}
	rw.Unlock()
}

// noBarging checks FIFO fairness against the Try calls under load: one
// goroutine, the only one that ever waits, takes the whole primitive again and
// again with a blocking call and counts each time it holds it (epoch); the
// others only use the Try call. The contract says a newcomer never takes a
// permit while an earlier waiter still waits, Try calls included. So if a
// trying goroutine read epoch e, then saw the waiter queued, and its Try call
// then succeeded, the waiter must have been served (and have let go) in
// between: epoch has moved past e. A release that leaves its permits where a
// Try call can take them before the queue gets them fails this.
//
// waitAll takes everything and counts as one epoch; try takes a part without
// waiting and reports whether it did, with its release; queued reports
// whether anyone waits.
func noBarging(t *testing.T, rounds int, waitAll func() (release func()), try func(*rand.Rand) (release func(), ok bool), queued func() bool) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	var epoch atomic.Int64
	var done atomic.Bool
	var served, tried, barged atomic.Int64 // epochs, Try calls after seeing the waiter queued, wrong successes
	var wg sync.WaitGroup
	wg.Go(func() {
		defer done.Store(true)
		r := rand.New(rand.NewPCG(seed, 0))
		for range rounds {
			release := waitAll()
			epoch.Add(1)
			served.Add(1)
			hold(r)
			release()
			hold(r)
		}
	})
	for g := range 3 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(g+1)))
			for !done.Load() {
				e := epoch.Load()
				q := queued()
				release, ok := try(r)
				if q {
					tried.Add(1)
				}
				if !ok {
					runtime.Gosched() // let the waiter run, with GOMAXPROCS=1 too
					continue
				}
				if q && epoch.Load() == e {
					barged.Add(1)
				}
				hold(r)
				release()
			}
		})
	}
	waitLive(t, &wg, func() string { return fmt.Sprintf("epoch=%d", epoch.Load()) })
	t.Logf("%d epochs; %d Try calls made after seeing the waiter queued", served.Load(), tried.Load())
	if b := barged.Load(); b != 0 {
		t.Errorf("%d Try calls took the primitive while the waiter was queued and before it was served", b)
	}
}

// TestSemaphoreStressNoBarging: while AcquireN(all permits) is queued,
// TryAcquireN never succeeds until that waiter has been served.
func TestSemaphoreStressNoBarging(t *testing.T) {
	const permits = 4
	s := gate.NewSemaphore(permits)
	noBarging(t, stormScale(40000),
		func() func() {
			p, err := s.AcquireN(context.Background(), permits)
			if err != nil {
				t.Errorf("AcquireN: %v", err)
			}
			return p.Release
		},
		func(r *rand.Rand) (func(), bool) {
			p, err := s.TryAcquireN(1 + r.IntN(2))
			return p.Release, err == nil
		},
		func() bool { return gate.SemaphoreWaiters(s) > 0 })
	if got := s.Available(); got != permits {
		t.Errorf("Available() = %d at the end, want %d", got, permits)
	}
	goleak.VerifyNone(t)
}

// TestMutexStressNoBarging: while a Lock is queued, TryLock never succeeds
// until that waiter has held the lock.
func TestMutexStressNoBarging(t *testing.T) {
	var m gate.Mutex[int]
	noBarging(t, stormScale(40000),
		func() func() {
			p, err := m.Lock(context.Background())
			if err != nil {
				t.Errorf("Lock: %v", err)
			}
			*p++
			return m.Unlock
		},
		func(*rand.Rand) (func(), bool) {
			p, ok := m.TryLock()
			if ok {
				*p++
			}
			return m.Unlock, ok
		},
		func() bool { return gate.MutexWaiters(&m) > 0 })
	if gate.MutexLocked(&m) {
		t.Errorf("mutex locked at the end")
	}
	goleak.VerifyNone(t)
}

// TestRWMutexStressNoBarging: while a writer is queued, TryRLock never
// succeeds until that writer has held the lock (write preference), and
// TryLock neither.
func TestRWMutexStressNoBarging(t *testing.T) {
	rw := gate.NewRWMutexMaxReaders(0, 3)
	noBarging(t, stormScale(40000),
		func() func() {
			p, err := rw.Lock(context.Background())
			if err != nil {
				t.Errorf("Lock: %v", err)
			}
			*p++
			return rw.Unlock
		},
		func(r *rand.Rand) (func(), bool) {
			if r.IntN(4) == 0 {
				p, ok := rw.TryLock()
				if ok {
					*p++
				}
				return rw.Unlock, ok
			}
			p, ok := rw.TryRLock()
			if ok {
				_ = *p
			}
			return rw.RUnlock, ok
		},
		func() bool { return gate.RWMutexWaiters(rw) > 0 })
	if a := gate.RWMutexAvailable(rw); a != 3 {
		t.Errorf("%d read permits free at the end, want 3", a)
	}
	goleak.VerifyNone(t)
}

// TestNotifyStressNoLostWakeup runs producers that add work and call
// NotifyOne or NotifyLast against consumers that take work or wait, with
// Wait under a cancellation storm, Enable then Cancel (passing a chosen
// notification on), and waits whose ctx never ends. A notification lost by a
// cancelled waiter would leave work behind with every consumer asleep: the
// run would hang (waitLive reports it). Each consumer creates its Notified
// before it looks at the work, and the consumer that takes the last item
// calls NotifyWaiters, so every consumer ends. A Wait returns nil only for a
// notification: successes never exceed the notifications sent.
func TestNotifyStressNoLostWakeup(t *testing.T) {
	const producers, consumers = 3, 6
	items := stormScale(20000)
	total := int64(producers * items)
	seed := rand.Uint64()
	t.Logf("seed %d", seed)

	var n gate.Notify
	var work, taken atomic.Int64
	var notifies, woken, cancelled atomic.Int64
	st := newStorm(2)
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(p)))
			for range items {
				work.Add(1)
				notifies.Add(1)
				if r.IntN(4) == 0 {
					n.NotifyLast()
				} else {
					n.NotifyOne()
				}
				if r.IntN(8) == 0 {
					runtime.Gosched()
				}
			}
		})
	}
	take := func() bool {
		for {
			k := work.Load()
			if k == 0 {
				return false
			}
			if work.CompareAndSwap(k, k-1) {
				return true
			}
		}
	}
	for c := range consumers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(producers+c)))
			for {
				w := n.Notified() // before the check: the final NotifyWaiters completes it
				if taken.Load() == total {
					return
				}
				if take() {
					if taken.Add(1) == total {
						n.NotifyWaiters()
					}
					continue
				}
				var err error
				var ctx context.Context
				cancel := func() {}
				switch r.IntN(4) {
				case 0: // must be woken: a lost notification hangs here
					ctx = context.Background()
					err = w.Wait(ctx)
				case 1: // enable, then maybe give the place up
					if w.Enable() {
						woken.Add(1)
						continue
					}
					if r.IntN(2) == 0 {
						hold(r)
						w.Cancel()
						continue
					}
					fallthrough
				default:
					ctx, cancel = st.ctx(r)
					err = w.Wait(ctx)
				}
				checkStormErr(t, "Notified.Wait", ctx, err)
				cancel()
				if err == nil {
					woken.Add(1)
				} else {
					cancelled.Add(1)
				}
			}
		})
	}
	waitLive(t, &wg, func() string {
		s, gen := gate.NotifyState(&n)
		return fmt.Sprintf("work=%d taken=%d/%d queued=%d state=%d gen=%d",
			work.Load(), taken.Load(), total, gate.NotifyQueueLen(&n), s, gen)
	})
	st.stop()
	t.Logf("%d notifications, %d waits completed, %d ended by their ctx", notifies.Load(), woken.Load(), cancelled.Load())
	if w, k := woken.Load(), notifies.Load(); w > k+consumers {
		t.Errorf("%d waits completed with %d notifications and one NotifyWaiters: a Wait returned nil without a notification", w, k)
	}
	if q := gate.NotifyQueueLen(&n); q != 0 {
		t.Errorf("%d waiters left queued", q)
	}
	goleak.VerifyNone(t)
}

// TestNotifyStressNotifyWaiters runs waiters through many rounds. In each
// round every waiter creates a Notified and then waits on it in one of
// several ways (a ctx that never ends, a ctx that may end then a retry, Enable
// and Cancel first); a driver calls NotifyWaiters once all of them have
// created theirs, while another goroutine throws in NotifyOne calls. A
// Notified that NotifyWaiters failed to complete would hang its waiter.
func TestNotifyStressNotifyWaiters(t *testing.T) {
	const waiters = 8
	rounds := stormScale(2000)
	seed := rand.Uint64()
	t.Logf("seed %d", seed)

	var n gate.Notify
	arrived := make([]atomic.Int64, rounds)
	var round atomic.Int64
	st := newStorm(1)
	var wg sync.WaitGroup
	for g := range waiters {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(g)))
			for i := range rounds {
				w := n.Notified()
				arrived[i].Add(1)
				switch r.IntN(3) {
				case 0:
					if w.Enable() {
						continue // a NotifyOne, or NotifyWaiters, already
					}
					if r.IntN(2) == 0 {
						w.Cancel()
					}
				case 1:
					ctx, cancel := st.ctx(r)
					err := w.Wait(ctx)
					checkStormErr(t, "Notified.Wait", ctx, err)
					cancel()
					if err == nil {
						continue
					}
				}
				// NotifyWaiters of this round completes it.
				if err := w.Wait(context.Background()); err != nil {
					t.Errorf("Notified.Wait(Background) = %v", err)
				}
			}
		})
	}
	var stop atomic.Bool
	var side sync.WaitGroup
	side.Go(func() {
		for !stop.Load() {
			n.NotifyOne()
			for range 20 {
				runtime.Gosched()
			}
		}
	})
	wg.Go(func() {
		for i := range rounds {
			for arrived[i].Load() < waiters {
				runtime.Gosched()
			}
			round.Store(int64(i))
			n.NotifyWaiters()
		}
	})
	waitLive(t, &wg, func() string {
		i := round.Load()
		return fmt.Sprintf("round %d: %d arrived, queued=%d", i, arrived[i].Load(), gate.NotifyQueueLen(&n))
	})
	stop.Store(true)
	side.Wait()
	st.stop()
	if q := gate.NotifyQueueLen(&n); q != 0 {
		t.Errorf("%d waiters left queued", q)
	}
	goleak.VerifyNone(t)
}

// TestBarrierStressCancel runs more goroutines than a generation needs
// through a Barrier, each Wait under a cancellation storm, so that arrivals
// are withdrawn at random. Every completed generation returns success to
// exactly n waiters of which exactly one is the leader: in the end the
// successful waits are n times the leaders. A withdrawal that was not taken
// back (or taken back twice) would complete a generation with too few (or
// too many) waiters, or hang the run.
func TestBarrierStressCancel(t *testing.T) {
	const parties, goroutines = 4, 7
	target := int64(stormScale(4000))
	seed := rand.Uint64()
	t.Logf("seed %d", seed)

	b := gate.NewBarrier(parties)
	root, stopAll := context.WithCancel(context.Background())
	var leaders, followers, withdrawn atomic.Int64
	st := newStorm(2)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(g)))
			for root.Err() == nil {
				var ctx context.Context
				var cancel context.CancelFunc
				if r.IntN(3) == 0 {
					ctx, cancel = context.WithCancel(root) // ends only at the end
				} else {
					c, cc := st.ctx(r)
					ctx, cancel = mergeCancel(root, c, cc)
				}
				leader, err := b.Wait(ctx)
				checkStormErr(t, "Barrier.Wait", ctx, err)
				cancel()
				switch {
				case err != nil:
					withdrawn.Add(1)
				case leader:
					if leaders.Add(1) >= target {
						stopAll()
					}
				default:
					followers.Add(1)
				}
			}
		})
	}
	waitLive(t, &wg, func() string {
		return fmt.Sprintf("leaders=%d followers=%d withdrawn=%d arrived=%d",
			leaders.Load(), followers.Load(), withdrawn.Load(), gate.BarrierArrived(b))
	})
	st.stop()
	stopAll()
	l, f := leaders.Load(), followers.Load()
	t.Logf("%d generations, %d followers, %d waits withdrawn", l, f, withdrawn.Load())
	if f != (parties-1)*l {
		t.Errorf("%d followers for %d leaders, want %d per generation", f, l, parties-1)
	}
	if a := gate.BarrierArrived(b); a != 0 {
		t.Errorf("%d arrivals left in the barrier", a)
	}
	goleak.VerifyNone(t)
}

// mergeCancel returns a ctx that ends when parent or c ends, and a cancel
// that releases both.
func mergeCancel(parent, c context.Context, cancelC context.CancelFunc) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	stop := context.AfterFunc(c, cancel)
	return ctx, func() {
		stop()
		cancel()
		cancelC()
	}
}

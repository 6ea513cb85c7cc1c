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
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
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

// A storm hands out contexts that end at random (randomCtx) and runs the
// goroutines that cancel some more of them: those end right as their call
// gets going, or while it waits, with no timer in between.
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
// Three in ten are cancelled by the storm's goroutines, the rest come from
// randomCtx.
func (st *storm) ctx(r *rand.Rand) (context.Context, context.CancelFunc) {
	if r.IntN(10) >= 3 {
		return randomCtx(r, context.Background())
	}
	ctx, cancel := context.WithCancel(context.Background())
	select {
	case st.cancels <- cancel:
	default: // the cancellers are busy: this one ends when the call is over
	}
	return ctx, cancel
}

// checkStormErr reports err unless it is nil, one of allowed, or ctx.Err()
// itself (unwrapped) with ctx done. It must run before the caller's cancel.
// The stress and linearizability tests share it.
func checkStormErr(t *testing.T, what string, ctx context.Context, err error, allowed ...error) {
	t.Helper()
	if err == nil || isCtxErr(ctx, err) {
		return
	}
	for _, a := range allowed {
		if err == a {
			return
		}
	}
	t.Errorf("%s: unexpected error %v (ctx.Err() = %v)", what, err, ctx.Err())
}

// stallTimeout is how long waitLive waits before it calls the run stuck: ten
// times what a whole storm takes under -race, and short enough that it reports
// the primitive's state before the test's watchdog fails the run.
const stallTimeout = watchdogTimeout - 5*time.Second

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
	watchdog(t)
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
	seed := logSeed(t)

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

// Ports sync_semaphore.rs::stress_test and sync_semaphore_owned.rs::stress_test:
// 1000 goroutines acquire and release one of 5 permits, most of them queued
// at once; at most 5 are held at a time and exactly 5 are left.
func TestSemaphoreStress(t *testing.T) {
	watchdog(t)
	s := gate.NewSemaphore(5)
	var inUse, peak atomic.Int64
	var wg sync.WaitGroup
	for range 1000 {
		wg.Go(func() {
			p, err := s.Acquire(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			n := inUse.Add(1)
			for old := peak.Load(); n > old && !peak.CompareAndSwap(old, n); old = peak.Load() {
			}
			runtime.Gosched()
			inUse.Add(-1)
			p.Release()
		})
	}
	wg.Wait()
	if peak.Load() > 5 {
		t.Fatalf("%d permits held at once, want at most 5", peak.Load())
	}
	wantAvailable(t, s, 5)
	wantWaiters(t, s, 0)
	for i := range 5 {
		if _, err := s.TryAcquire(); err != nil {
			t.Fatalf("TryAcquire #%d: %v", i+1, err)
		}
	}
	wantTryErr(t, s, 1, gate.ErrNoPermits)
}

// TestSemaphoreAddPermitsOverflowRace races AddPermits(2), which would push
// the count past MaxPermits, with an AcquireN(MaxPermits) on a semaphore of
// MaxPermits-1: the acquire is on its way into the queue, taking the
// MaxPermits-1 as a partial grant, while the add runs. Whichever comes first,
// the add must panic with "gate: " and change nothing: the waiter stays
// queued with its partial grant (it can never be served), and once its ctx is
// cancelled exactly MaxPermits-1 permits are available again. A release that
// published the wrapped count before checking it would hand the waiter a
// negative grant and leave the semaphore at -2^61 for good.
func TestSemaphoreAddPermitsOverflowRace(t *testing.T) {
	watchdog(t)
	iters := stormScale(2000)
	for i := range iters {
		s := gate.NewSemaphore(gate.MaxPermits - 1)
		ctx, cancel := context.WithCancel(context.Background())
		start := make(chan struct{})
		w := goAcquire(ctx, s, gate.MaxPermits)
		add := goErr("AddPermits(2)", func() (err error) {
			defer func() {
				if r := recover(); r != nil {
					if msg := fmt.Sprint(r); strings.HasPrefix(msg, "gate: ") {
						err = errAddPanicked
					} else {
						err = fmt.Errorf("panicked with %q", msg)
					}
				}
			}()
			<-start
			if i%2 == 0 {
				runtime.Gosched() // let the acquire get ahead, sometimes
			}
			s.AddPermits(2)
			return nil
		})
		close(start)
		if _, err := add.wait(t); err != errAddPanicked {
			t.Fatalf("iteration %d: AddPermits(2) past MaxPermits: %v, want a panic starting with \"gate: \"", i, err)
		}
		for gate.SemaphoreWaiters(s) == 0 {
			runtime.Gosched() // the acquire must queue: it can never be met
		}
		if g := gate.SemaphoreHeadGrant(s); g != gate.MaxPermits-1 {
			t.Fatalf("iteration %d: the queued AcquireN holds %d permits, want MaxPermits-1", i, g)
		}
		cancel()
		if _, err := w.wait(t); err != context.Canceled {
			t.Fatalf("iteration %d: AcquireN(MaxPermits) = %v, want context.Canceled", i, err)
		}
		if got := s.Available(); got != gate.MaxPermits-1 {
			t.Fatalf("iteration %d: Available() = %d after the race, want MaxPermits-1 = %d", i, got, gate.MaxPermits-1)
		}
		wantWaiters(t, s, 0)
	}
}

// errAddPanicked is what the AddPermits goroutine of
// TestSemaphoreAddPermitsOverflowRace returns when AddPermits panicked as it
// must.
var errAddPanicked = errors.New("AddPermits panicked")

// TestMutexStressCancelStorm runs many goroutines that Lock (under a
// cancellation storm) or TryLock one Mutex[int] and increment the value it
// owns. At most one holds it at a time, no increment is lost, and in the end
// it is free with nobody queued.
func TestMutexStressCancelStorm(t *testing.T) {
	watchdog(t)
	goroutines, iters := 16, stormScale(7500)
	seed := logSeed(t)

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
	watchdog(t)
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
	seed := logSeed(t)

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

// A bargeSubject is one primitive of the NoBarging tests. lockAll takes the
// whole primitive, waiting with ctx; acquire takes a part, waiting with ctx;
// try takes a part without waiting; each returns the release of what it took.
// waiters counts the queued goroutines; check fails t unless the primitive is
// back where it started.
type bargeSubject struct {
	lockAll func(ctx context.Context) (release func(), err error)
	acquire func(ctx context.Context, r *rand.Rand) (release func(), err error)
	try     func(r *rand.Rand) (release func(), ok bool)
	waiters func() int
	check   func(t *testing.T)
}

func semaphoreBarge() bargeSubject {
	const permits = 4
	s := gate.NewSemaphore(permits)
	return bargeSubject{
		lockAll: func(ctx context.Context) (func(), error) {
			p, err := s.AcquireN(ctx, permits)
			return p.Release, err
		},
		acquire: func(ctx context.Context, r *rand.Rand) (func(), error) {
			var p gate.Permit
			var err error
			if r.IntN(2) == 0 {
				p, err = s.Acquire(ctx)
			} else {
				p, err = s.AcquireN(ctx, 1+r.IntN(2))
			}
			return p.Release, err
		},
		try: func(r *rand.Rand) (func(), bool) {
			p, err := s.TryAcquireN(1 + r.IntN(2))
			return p.Release, err == nil
		},
		waiters: func() int { return gate.SemaphoreWaiters(s) },
		check: func(t *testing.T) {
			if got := s.Available(); got != permits {
				t.Errorf("Available() = %d at the end, want %d", got, permits)
			}
		},
	}
}

// lockIncrement is a lock call that increments the value it locked, so that
// the race detector checks the lock's happens-before edges, with its unlock.
func lockIncrement(lock func(context.Context) (*int, error), unlock func()) func(context.Context) (func(), error) {
	return func(ctx context.Context) (func(), error) {
		return unlock, incrementLock(lock)(ctx)
	}
}

// tryIncrement is lockIncrement for a Try call.
func tryIncrement(try func() (*int, bool), unlock func()) func() (func(), bool) {
	return func() (func(), bool) {
		p, ok := try()
		if ok {
			*p++
		}
		return unlock, ok
	}
}

func mutexBarge() bargeSubject {
	m := new(gate.Mutex[int])
	lock, try := lockIncrement(m.Lock, m.Unlock), tryIncrement(m.TryLock, m.Unlock)
	return bargeSubject{
		lockAll: lock,
		acquire: func(ctx context.Context, _ *rand.Rand) (func(), error) { return lock(ctx) },
		try:     func(*rand.Rand) (func(), bool) { return try() },
		waiters: func() int { return gate.MutexWaiters(m) },
		check: func(t *testing.T) {
			if gate.MutexLocked(m) {
				t.Errorf("mutex locked at the end")
			}
		},
	}
}

// rwMutexBarge takes the write lock as a whole; a part is a read lock, or
// the write lock one time in four.
func rwMutexBarge() bargeSubject {
	rw := gate.NewRWMutexMaxReaders(0, 3)
	lock, try := lockIncrement(rw.Lock, rw.Unlock), tryIncrement(rw.TryLock, rw.Unlock)
	return bargeSubject{
		lockAll: lock,
		acquire: func(ctx context.Context, r *rand.Rand) (func(), error) {
			if r.IntN(4) == 0 {
				return lock(ctx)
			}
			p, err := rw.RLock(ctx)
			if err == nil {
				_ = *p // a read under the read lock, for the race detector
			}
			return rw.RUnlock, err
		},
		try: func(r *rand.Rand) (func(), bool) {
			if r.IntN(4) == 0 {
				return try()
			}
			p, ok := rw.TryRLock()
			if ok {
				_ = *p
			}
			return rw.RUnlock, ok
		},
		waiters: func() int { return gate.RWMutexWaiters(rw) },
		check: func(t *testing.T) {
			if a := gate.RWMutexAvailable(rw); a != 3 {
				t.Errorf("%d read permits free at the end, want 3", a)
			}
		},
	}
}

// bargeWaiter starts, on wg, the one goroutine of a NoBarging test that
// waits: it takes the whole of sub again and again and counts each time it
// holds it (epoch, served): rounds times, then on while more() (up to 50
// times as many), then sets done.
func bargeWaiter(t *testing.T, wg *sync.WaitGroup, sub bargeSubject, seed uint64, rounds int, more func() bool, epoch, served *atomic.Int64, done *atomic.Bool) {
	wg.Go(func() {
		defer done.Store(true)
		r := rand.New(rand.NewPCG(seed, 0))
		for i := 0; i < rounds || more() && i < 50*rounds; i++ {
			release, err := sub.lockAll(context.Background())
			if err != nil {
				t.Errorf("taking the whole primitive: %v", err)
			}
			epoch.Add(1)
			served.Add(1)
			hold(r)
			release()
			hold(r)
		}
	})
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
func noBarging(t *testing.T, rounds int, sub bargeSubject) {
	watchdog(t)
	seed := logSeed(t)
	var epoch atomic.Int64
	var done atomic.Bool
	var served, tried, barged atomic.Int64 // epochs, Try calls after seeing the waiter queued, wrong successes
	var wg sync.WaitGroup
	bargeWaiter(t, &wg, sub, seed, rounds, func() bool { return false }, &epoch, &served, &done)
	for g := range 3 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(g+1)))
			for !done.Load() {
				e := epoch.Load()
				q := sub.waiters() > 0
				release, ok := sub.try(r)
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
	sub.check(t)
	goleak.VerifyNone(t)
}

// noBargingBlocking is noBarging for the blocking calls (Acquire, AcquireN,
// Lock, RLock), whose fast path must refuse too while anyone is queued, and
// whose slow path must queue behind, never ahead. The waiting goroutine takes
// the whole primitive again and again, as in noBarging; the others call
// acquire, which waits with a ctx from a storm, and may queue themselves.
// Seeing someone queued no longer means the waiter is queued, so they count:
// a newcomer reads exited, then waiters(), then entered. Each newcomer inside
// acquire when waiters() ran had entered by then and had not exited before
// the first read, so at most entered - exited of them were queued: if
// waiters() is larger, the waiter was queued then, before the newcomer's own
// call began. That call may then return success only after the waiter was
// served: epoch has moved. It catches a release that leaves permits where a
// newcomer's fast path takes them, a newcomer queued ahead of the waiter, and
// a hand-out that skips the head waiter for a smaller request behind it.
//
// The waiter goes on past rounds while fewer than 10 calls were checked (in
// -short mode the epochs can all pass before the others get going).
func noBargingBlocking(t *testing.T, rounds int, sub bargeSubject) {
	watchdog(t)
	seed := logSeed(t)
	var epoch, entered, exited atomic.Int64
	var done atomic.Bool
	var served, checked, barged atomic.Int64 // epochs, successes that followed a queued waiter, wrong ones
	st := newStorm(1)
	var wg sync.WaitGroup
	bargeWaiter(t, &wg, sub, seed, rounds, func() bool { return checked.Load() < 10 }, &epoch, &served, &done)
	for g := range 3 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(g+1)))
			for !done.Load() {
				e := epoch.Load()
				x := exited.Load()
				q := int64(sub.waiters())
				waiterQueued := q > entered.Load()-x
				ctx, cancel := st.ctx(r)
				entered.Add(1)
				release, err := sub.acquire(ctx, r)
				exited.Add(1)
				checkStormErr(t, "blocking acquire", ctx, err)
				cancel()
				if err != nil {
					continue
				}
				if waiterQueued {
					checked.Add(1)
					if epoch.Load() == e {
						barged.Add(1)
					}
				}
				hold(r)
				release()
			}
		})
	}
	waitLive(t, &wg, func() string {
		return fmt.Sprintf("epoch=%d waiters=%d entered=%d exited=%d", epoch.Load(), sub.waiters(), entered.Load(), exited.Load())
	})
	st.stop()
	t.Logf("%d epochs; %d successful calls began behind the queued waiter", served.Load(), checked.Load())
	if b := barged.Load(); b != 0 {
		t.Errorf("%d blocking calls that began while the waiter was queued returned before it was served", b)
	}
	if checked.Load() == 0 {
		t.Errorf("no call began behind the queued waiter: the test checked nothing")
	}
	sub.check(t)
	goleak.VerifyNone(t)
}

// TestSemaphoreStressNoBargingBlocking: while AcquireN(all permits) is
// queued, an Acquire or AcquireN that starts later returns only after it.
func TestSemaphoreStressNoBargingBlocking(t *testing.T) {
	noBargingBlocking(t, stormScale(10000), semaphoreBarge())
}

// TestMutexStressNoBargingBlocking: while a Lock is queued, a Lock that
// starts later returns only after it has held the mutex.
func TestMutexStressNoBargingBlocking(t *testing.T) {
	noBargingBlocking(t, stormScale(10000), mutexBarge())
}

// TestRWMutexStressNoBargingBlocking: while a writer is queued, an RLock or
// Lock that starts later returns only after that writer has held the lock.
func TestRWMutexStressNoBargingBlocking(t *testing.T) {
	noBargingBlocking(t, stormScale(10000), rwMutexBarge())
}

// TestSemaphoreStressNoBarging: while AcquireN(all permits) is queued,
// TryAcquireN never succeeds until that waiter has been served.
func TestSemaphoreStressNoBarging(t *testing.T) { noBarging(t, stormScale(40000), semaphoreBarge()) }

// TestMutexStressNoBarging: while a Lock is queued, TryLock never succeeds
// until that waiter has held the lock.
func TestMutexStressNoBarging(t *testing.T) { noBarging(t, stormScale(40000), mutexBarge()) }

// TestRWMutexStressNoBarging: while a writer is queued, TryRLock never
// succeeds until that writer has held the lock (write preference), and
// TryLock neither.
func TestRWMutexStressNoBarging(t *testing.T) { noBarging(t, stormScale(40000), rwMutexBarge()) }

// TestOneshotStressNothingLost races the two sides of many oneshot channels
// under a cancellation storm: senders Send (sometimes two at once, sometimes
// after Close) while the receiver mixes Recv with random contexts, TryRecv,
// Ready in a select and Close, and WaitClosed calls wait for the receiver.
// The receiver always ends with Close and a TryRecv, which may no longer
// report ErrEmpty. Nothing is lost and nothing invented: a value whose Send
// returned nil is received exactly once (even if the receiver closed after
// the Send), a Send that returned ErrClosed delivered nothing, at most one
// Send succeeds per channel, a Send that starts after the receiver's Close
// returned fails, a receive from Ready is always followed by a value or
// ErrClosed, and a WaitClosed returns nil only once the receiver closed.
func TestOneshotStressNothingLost(t *testing.T) {
	watchdog(t)
	workers, rounds := 8, stormScale(2500)
	seed := logSeed(t)
	st := newStorm(2)
	var delivered, refused, waitNil atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(w)))
			for round := range rounds {
				oneshotStormRound(t, r, st, w*rounds+round, &delivered, &refused, &waitNil)
				if t.Failed() {
					return
				}
			}
		})
	}
	waitLive(t, &wg, func() string { return fmt.Sprintf("delivered=%d refused=%d", delivered.Load(), refused.Load()) })
	st.stop()
	t.Logf("%d values delivered, %d sends refused, %d WaitClosed returned nil", delivered.Load(), refused.Load(), waitNil.Load())
	goleak.VerifyNone(t)
}

func oneshotStormRound(t *testing.T, r *rand.Rand, st *storm, id int, delivered, refused, waitNil *atomic.Int64) {
	tx, rx := gate.Oneshot[int]()
	var rxClosed atomic.Bool // set once the receiver's Close has returned
	var sendOK [2]atomic.Bool
	senders := 1 + r.IntN(2)
	closeFirst := r.IntN(6) == 0
	closeAfter := r.IntN(3) == 0
	var wg sync.WaitGroup
	for s := range senders {
		sr := rand.New(rand.NewPCG(r.Uint64(), uint64(s)))
		wg.Go(func() {
			hold(sr)
			if closeFirst {
				tx.Close()
			}
			before := rxClosed.Load()
			err := tx.Send(2*id + s)
			switch {
			case err == nil:
				if before {
					t.Errorf("Send after the receiver's Close returned nil")
				}
				if closeFirst {
					t.Errorf("Send after the sender's Close returned nil")
				}
				sendOK[s].Store(true)
			case err != gate.ErrClosed:
				t.Errorf("Send = %v", err)
			}
			if closeAfter {
				tx.Close()
			}
		})
	}
	if r.IntN(2) == 0 {
		wr := rand.New(rand.NewPCG(r.Uint64(), 9))
		wg.Go(func() {
			ctx, cancel := st.ctx(wr)
			err := tx.WaitClosed(ctx)
			checkStormErr(t, "WaitClosed", ctx, err, gate.ErrClosed)
			cancel()
			if err == nil {
				waitNil.Add(1)
				if !tx.IsClosed() {
					t.Errorf("WaitClosed returned nil, IsClosed = false")
				}
			}
		})
	}

	// The receiver, on this goroutine.
	var got []int
	take := func(v int, err error) (done bool) {
		switch err {
		case nil:
			got = append(got, v)
			return true
		case gate.ErrClosed:
			return true
		case gate.ErrEmpty:
			return false
		}
		return false
	}
	finished := false
	for range r.IntN(4) {
		if finished {
			break
		}
		switch r.IntN(4) {
		case 0:
			ctx, cancel := st.ctx(r)
			v, err := rx.Recv(ctx)
			checkStormErr(t, "Recv", ctx, err, gate.ErrClosed)
			cancel()
			finished = take(v, err)
		case 1:
			v, err := rx.TryRecv()
			if err != nil && err != gate.ErrEmpty && err != gate.ErrClosed {
				t.Errorf("TryRecv = %v", err)
			}
			finished = take(v, err)
		case 2:
			ctx, cancel := st.ctx(r)
			select {
			case <-rx.Ready():
				v, err := rx.TryRecv()
				if err == gate.ErrEmpty {
					t.Errorf("TryRecv after a receive from Ready = ErrEmpty: invented")
				}
				finished = take(v, err)
			case <-ctx.Done():
			}
			cancel()
		case 3:
			rx.Close()
			rxClosed.Store(true)
		}
	}
	if !finished {
		rx.Close()
		rxClosed.Store(true)
		v, err := rx.TryRecv()
		if err == gate.ErrEmpty {
			t.Errorf("TryRecv after Close = ErrEmpty")
		}
		take(v, err)
	}
	if _, err := rx.TryRecv(); err != gate.ErrClosed {
		t.Errorf("TryRecv after the end = %v, want ErrClosed", err)
	}
	wg.Wait()

	var sent []int
	for s := range senders {
		if sendOK[s].Load() {
			sent = append(sent, 2*id+s)
		}
	}
	if len(sent) > 1 {
		t.Errorf("%d Sends succeeded on one oneshot", len(sent))
	}
	if len(sent) != len(got) || len(sent) == 1 && sent[0] != got[0] {
		t.Errorf("round %d: sends that returned nil %v, values received %v", id, sent, got)
	}
	delivered.Add(int64(len(got)))
	refused.Add(int64(senders - len(sent)))
}

// watchStressValue is the value of TestWatchStress's channel: check is
// derived from seq and silent, so that a torn read shows.
type watchStressValue struct {
	seq, silent uint64 // notifying sends so far; silent modifications so far
	check       [3]uint64
}

func (v *watchStressValue) fill() {
	for i := range v.check {
		v.check[i] = v.seq*uint64(i+2) ^ v.silent<<32
	}
}

func (v watchStressValue) consistent() bool {
	w := v
	w.fill()
	return w == v
}

// TestWatchStress runs senders and receivers that join and leave on one
// watch channel under a cancellation storm. Every value read is whole and
// belongs to the version read with it (in "modify", every notifying send
// bumps seq inside the sender lock, so seq is the version; in "replace", one
// sender counts its own sends); the versions a receiver sees never go back;
// Changed and WaitFor return only nil, ErrClosed or their ctx's error, and
// after a nil the version has moved on; a receive from Ready is always
// followed by HasChanged reporting true or ErrClosed. In the end the last
// sender's Close wakes every waiting receiver, WaitClosed returns once the
// receivers are gone, and nothing is left queued.
func TestWatchStress(t *testing.T) {
	watchdog(t)
	t.Run("modify", func(t *testing.T) { watchStorm(t, false) })
	t.Run("replace", func(t *testing.T) { watchStorm(t, true) })
	goleak.VerifyNone(t)
}

func watchStorm(t *testing.T, replace bool) {
	senders, receivers, iters := 3, 6, stormScale(1500)
	if replace {
		senders = 1 // the version is its own count of sends
	}
	seed := logSeed(t)
	st := newStorm(2)

	tx0, keeper := gate.Watch(watchStressValue{})
	keeper.Close() // receivers come and go; Send may find none (ErrClosed)
	txs := []*gate.WatchSender[watchStressValue]{tx0}
	for range senders - 1 {
		txs = append(txs, tx0.Clone())
	}

	// checkRead checks a value and its version against each other and
	// against the last version this reader saw.
	checkRead := func(what string, v watchStressValue, ver uint64, last *uint64) {
		if !v.consistent() {
			t.Errorf("%s: torn value %+v", what, v)
		}
		if v.seq != ver {
			t.Errorf("%s: value of version %d read with version %d", what, v.seq, ver)
		}
		if ver < *last {
			t.Errorf("%s: version went back from %d to %d", what, *last, ver)
		}
		*last = ver
	}

	var stop atomic.Bool
	var sends atomic.Int64
	var swg, rwg sync.WaitGroup
	for i, tx := range txs {
		swg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(i)))
			var n uint64 // replace: versions sent by this (only) sender
			var last uint64
			for !stop.Load() {
				switch k := r.IntN(10); {
				case replace && k < 5:
					v := watchStressValue{seq: n + 1}
					v.fill()
					if err := tx.Send(v); err == nil {
						n++
					} else if err != gate.ErrClosed {
						t.Errorf("Send: %v", err)
					}
				case replace:
					v := watchStressValue{seq: n + 1}
					v.fill()
					if old := tx.SendReplace(v); old.seq != n {
						t.Errorf("SendReplace returned seq %d, want %d", old.seq, n)
					}
					n++
				case k < 5:
					tx.SendModify(func(v *watchStressValue) { v.seq++; v.fill() })
				case k < 7:
					tx.SendIfModified(func(v *watchStressValue) bool { v.silent++; v.fill(); return false })
				case k < 8:
					func() {
						defer func() { _ = recover() }()
						tx.SendIfModified(func(v *watchStressValue) bool { v.silent++; v.fill(); panic("f") })
					}()
				default:
					v := tx.Borrow()
					if !v.consistent() || v.seq < last {
						t.Errorf("sender Borrow: %+v after seq %d", v, last)
					}
					last = v.seq
				}
				sends.Add(1)
				hold(r)
			}
		})
	}

	for i := range receivers {
		rwg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(100+i)))
			for iter := 0; iter < iters; {
				var rx *gate.WatchReceiver[watchStressValue]
				if r.IntN(2) == 0 {
					rx = txs[r.IntN(len(txs))].Subscribe()
				} else {
					tmp := txs[0].Subscribe()
					rx = tmp.Clone()
					tmp.Close()
				}
				var last uint64 // the newest version this receiver has read
				for range 1 + r.IntN(50) {
					iter++
					seen := gate.WatchSeen(rx)
					switch k := r.IntN(10); {
					case k < 2:
						v, ver := gate.WatchBorrowVersion(rx)
						checkRead("Borrow", v, ver, &last)
					case k < 3:
						v := rx.BorrowAndUpdate()
						ver := gate.WatchSeen(rx)
						checkRead("BorrowAndUpdate", v, ver, &last)
					case k < 5:
						ctx, cancel := st.ctx(r)
						err := rx.Changed(ctx)
						checkStormErr(t, "Changed", ctx, err)
						if err == nil && gate.WatchSeen(rx) == seen {
							t.Errorf("Changed returned nil with version %d already seen", seen)
						}
						if err != nil && gate.WatchSeen(rx) != seen {
							t.Errorf("Changed failed (%v) but marked a version seen", err)
						}
						cancel()
					case k < 7:
						ctx, cancel := st.ctx(r)
						v, err := rx.WaitFor(ctx, func(v watchStressValue) bool { return v.seq%3 == 0 })
						checkStormErr(t, "WaitFor", ctx, err)
						if err == nil && (v.seq%3 != 0 || !v.consistent()) {
							t.Errorf("WaitFor returned %+v", v)
						}
						cancel()
					case k < 8:
						rx.MarkChanged()
						if ok, err := rx.HasChanged(); !ok || err != nil {
							t.Errorf("HasChanged after MarkChanged = %v, %v", ok, err)
						}
						if err := rx.Changed(context.Background()); err != nil {
							t.Errorf("Changed after MarkChanged = %v", err)
						}
					default:
						ctx, cancel := st.ctx(r)
						select {
						case <-rx.Ready():
							if ok, err := rx.HasChanged(); !ok || err != nil {
								t.Errorf("Ready fired, then HasChanged = %v, %v", ok, err)
							}
							rx.BorrowAndUpdate()
						case <-ctx.Done():
						}
						cancel()
					}
					if gate.WatchSeen(rx) < seen && gate.WatchSeen(rx) != seen-1 {
						// MarkChanged is the one way back, by one.
						t.Errorf("seen version went back from %d to %d", seen, gate.WatchSeen(rx))
					}
				}
				rx.Close()
			}
		})
	}

	// A sender waits for the receivers to be gone, at the end.
	closedWait := make(chan error, 1)
	waitLive(t, &rwg, func() string { return fmt.Sprintf("%d sends", sends.Load()) })
	go func() { closedWait <- txs[0].WaitClosed(context.Background()) }()
	stop.Store(true)
	swg.Wait()
	if err := <-closedWait; err != nil {
		t.Errorf("WaitClosed = %v", err)
	}

	// A receiver waiting when the last sender closes is woken with ErrClosed
	// (after taking the last unseen version, if any).
	rx := txs[0].Subscribe()
	rx.BorrowAndUpdate()
	waiting := make(chan error, 1)
	go func() { waiting <- rx.Changed(context.Background()) }()
	for _, tx := range txs {
		tx.Close()
	}
	if err := <-waiting; err != gate.ErrClosed {
		t.Errorf("Changed at the close = %v", err)
	}
	if n := gate.WatchWaiters(rx); n != 0 {
		t.Errorf("%d receivers still queued", n)
	}
	rx.Close()
	st.stop()
	t.Logf("%d sends", sends.Load())
}

// TestOnceCellStressInitStorm runs rounds in which many goroutines call
// GetOrInit, GetOrTryInit, Wait and Set on one OnceCell under a cancellation
// storm, with initializers that succeed, return an error, panic, or give up
// when their ctx ends. In every round exactly one initializer or Set stores a
// value, every call that succeeds returns that value, at most one initializer
// runs at a time, and none runs after the value is stored. Between rounds Take
// empties the cell and returns the value, and the next round initializes it
// again.
func TestOnceCellStressInitStorm(t *testing.T) {
	watchdog(t)
	goroutines, rounds := 8, stormScale(1500)
	seed := logSeed(t)

	var c gate.OnceCell[int]
	st := newStorm(2)
	defer st.stop()
	errInit := fmt.Errorf("init failed")
	var panics, fails, canceled atomic.Int64
	for round := range rounds {
		var (
			running atomic.Int32   // initializers running now
			stored  atomic.Int64   // initializers and Sets that stored a value
			value   atomic.Int64   // the value stored, 0 if none
			wg      sync.WaitGroup // the initializers and Sets
			waits   sync.WaitGroup // the Waits
			mu      sync.Mutex
			results []int // values returned, checked at the end of the round
		)
		store := func(v int) {
			if stored.Add(1) != 1 {
				t.Errorf("round %d: a second value %d was stored", round, v)
			}
			value.Store(int64(v))
		}
		for g := range goroutines {
			r := rand.New(rand.NewPCG(seed, uint64(round*goroutines+g)))
			op := r.IntN(8)
			group := &wg
			if op == 0 {
				group = &waits
			}
			group.Go(func() {
				mine := round*1000 + g + 1
				init := func(ctx context.Context) (int, error) {
					if n := running.Add(1); n != 1 {
						t.Errorf("round %d: %d initializers run at once", round, n)
					}
					defer running.Add(-1)
					if stored.Load() != 0 {
						t.Errorf("round %d: an initializer runs on a set cell", round)
					}
					hold(r)
					switch r.IntN(8) {
					case 0:
						panics.Add(1)
						panic("stress: initializer panics")
					case 1, 2:
						fails.Add(1)
						return 0, errInit
					case 3:
						if err := ctx.Err(); err != nil {
							canceled.Add(1)
							return 0, err
						}
					}
					store(mine)
					return mine, nil
				}
				ctx, cancel := st.ctx(r)
				defer cancel()
				var v int
				var err error
				func() {
					defer func() {
						if p := recover(); p != nil && p != "stress: initializer panics" {
							panic(p)
						}
					}()
					switch op {
					case 0:
						v, err = c.Wait(ctx)
						checkStormErr(t, "Wait", ctx, err)
					case 1:
						if err = c.Set(mine); err == nil {
							store(mine)
							v = mine
						} else if err != gate.ErrAlreadySet && err != gate.ErrInitializing {
							t.Errorf("Set: %v", err)
						}
					case 2, 3, 4:
						v, err = c.GetOrTryInit(ctx, init)
						checkStormErr(t, "GetOrTryInit", ctx, err, errInit)
					default:
						v, err = c.GetOrInit(ctx, func(ctx context.Context) int {
							v, err := init(ctx)
							if err != nil {
								panic("stress: initializer panics")
							}
							return v
						})
						checkStormErr(t, "GetOrInit", ctx, err)
					}
					if err == nil {
						// A Set publishes before it can record its win:
						// compare once the round is over.
						mu.Lock()
						results = append(results, v)
						mu.Unlock()
					}
				}()
			})
		}
		state := func() string {
			return fmt.Sprintf("round %d: set=%v init waiters=%d waiters=%d", round, c.Initialized(),
				gate.OnceCellInitWaiters(&c), gate.OnceCellWaiters(&c))
		}
		waitLive(t, &wg, state)
		if t.Failed() {
			return
		}
		if stored.Load() == 0 {
			if c.Initialized() {
				t.Fatalf("round %d: the cell is set, but no initializer or Set stored a value", round)
			}
			// Every initializer failed: a Wait whose ctx never ends is
			// still waiting. Set a value for it.
			if err := c.Set(-1); err != nil {
				t.Fatalf("round %d: Set on an idle empty cell: %v", round, err)
			}
			store(-1)
		}
		waitLive(t, &waits, state)
		if t.Failed() {
			return
		}
		for _, v := range results {
			if w := int(value.Load()); v != w {
				t.Fatalf("round %d: a call returned %d, the value stored is %d", round, v, w)
			}
		}
		if w := gate.OnceCellInitWaiters(&c) + gate.OnceCellWaiters(&c); w != 0 {
			t.Fatalf("round %d: %d goroutines still queued", round, w)
		}
		if v, ok := c.Take(); !ok || v != int(value.Load()) {
			t.Fatalf("round %d: Take = %d, %v, want the stored %d", round, v, ok, value.Load())
		}
	}
	t.Logf("%d panics, %d errors, %d initializers gave up on ctx", panics.Load(), fails.Load(), canceled.Load())
}

// TestOnceCellStressTakeStorm mixes Take with every other call of a OnceCell,
// under a cancellation storm: goroutines initialize (successfully or not),
// Set, Get, Wait and Take at random. Every value stored is unique; every value
// a call returns was stored; at most one initializer runs at a time; and every
// stored value is taken exactly once (by a Take during the storm or the one at
// the end): no value is lost or handed out twice by Take, and the cell is
// never left closed and empty.
func TestOnceCellStressTakeStorm(t *testing.T) {
	watchdog(t)
	goroutines, iters := 8, stormScale(4000)
	seed := logSeed(t)

	var c gate.OnceCell[int]
	var running atomic.Int32
	var mu sync.Mutex
	stored := map[int]bool{} // values stored -> taken yet
	var takes, inits atomic.Int64
	store := func(v int) {
		mu.Lock()
		defer mu.Unlock()
		if _, dup := stored[v]; dup {
			t.Errorf("value %d stored twice", v)
		}
		stored[v] = false
	}
	seen := func(what string, v int) {
		mu.Lock()
		defer mu.Unlock()
		if _, ok := stored[v]; !ok {
			t.Errorf("%s returned %d, which was never stored", what, v)
		}
	}
	take := func(v int) {
		mu.Lock()
		defer mu.Unlock()
		taken, ok := stored[v]
		switch {
		case !ok:
			t.Errorf("Take returned %d, which was never stored", v)
		case taken:
			t.Errorf("Take returned %d twice", v)
		}
		stored[v] = true
	}
	errInit := fmt.Errorf("init failed")
	st := newStorm(2)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(g)))
			for i := range iters {
				mine := (g+1)<<20 | i
				ctx, cancel := st.ctx(r)
				switch r.IntN(10) {
				case 0, 1:
					if v, ok := c.Take(); ok {
						take(v)
						takes.Add(1)
					}
				case 2:
					// Recorded before it is published, as in the
					// initializer below; withdrawn if Set fails.
					store(mine)
					if c.Set(mine) != nil {
						mu.Lock()
						delete(stored, mine)
						mu.Unlock()
					}
				case 3:
					if v, ok := c.Get(); ok {
						seen("Get", v)
					}
				case 4:
					// Bounded, so that it ends when nobody stores a value.
					wctx, wcancel := context.WithTimeout(ctx, time.Duration(r.IntN(100))*time.Microsecond)
					v, err := c.Wait(wctx)
					checkStormErr(t, "Wait", wctx, err)
					wcancel()
					if err == nil {
						seen("Wait", v)
					}
				default:
					v, err := c.GetOrTryInit(ctx, func(ctx context.Context) (int, error) {
						if n := running.Add(1); n != 1 {
							t.Errorf("%d initializers run at once", n)
						}
						defer running.Add(-1)
						hold(r)
						if r.IntN(3) == 0 {
							return 0, errInit
						}
						// Stored before it is published: a Take may return
						// it as soon as GetOrTryInit has published it.
						store(mine)
						inits.Add(1)
						return mine, nil
					})
					checkStormErr(t, "GetOrTryInit", ctx, err, errInit)
					if err == nil {
						seen("GetOrTryInit", v)
					}
				}
				cancel()
			}
		})
	}
	waitLive(t, &wg, func() string {
		return fmt.Sprintf("set=%v init waiters=%d waiters=%d", c.Initialized(),
			gate.OnceCellInitWaiters(&c), gate.OnceCellWaiters(&c))
	})
	st.stop()
	if t.Failed() {
		return
	}
	if v, ok := c.Take(); ok {
		take(v)
	}
	for v, taken := range stored {
		if !taken {
			t.Errorf("value %d was stored but never taken: lost", v)
		}
	}
	if gate.OnceCellClosed(&c) || gate.OnceCellInitializing(&c) {
		t.Errorf("empty cell left closed=%v initializing=%v", gate.OnceCellClosed(&c), gate.OnceCellInitializing(&c))
	}
	if v, err := c.GetOrInit(context.Background(), func(context.Context) int { return -1 }); err != nil || v != -1 {
		t.Errorf("GetOrInit at the end = %d, %v, want its own -1", v, err)
	}
	t.Logf("%d values stored by initializers, %d taken during the storm", inits.Load(), takes.Load())
}

// TestSetOnceStressSetRace runs rounds in which goroutines race to Set a
// SetOnce while others Get, Wait (under a cancellation storm) and select on
// Done: exactly one Set wins; a losing Set returns only once the winner's
// value is visible; every observer sees the winner's value; and every channel
// Done returned, before or after the Set, is closed.
func TestSetOnceStressSetRace(t *testing.T) {
	goroutines, rounds := 8, stormScale(2000)
	seed := logSeed(t)
	watchdog(t)
	st := newStorm(2)
	defer st.stop()
	for round := range rounds {
		var c gate.SetOnce[int]
		var winners atomic.Int32
		var winner atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := range goroutines {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(seed, uint64(round*goroutines+g)))
				mine := g + 1
				<-start
				switch op := r.IntN(4); {
				case op == 0 || g == 0: // at least one setter per round
					err := c.Set(mine)
					switch err {
					case nil:
						winners.Add(1)
						winner.Store(int64(mine))
					case gate.ErrAlreadySet:
						if _, ok := c.Get(); !ok {
							t.Errorf("round %d: Set returned ErrAlreadySet before the value was visible", round)
						}
					default:
						t.Errorf("round %d: Set = %v", round, err)
					}
				case op == 1:
					ctx, cancel := st.ctx(r)
					v, err := c.Wait(ctx)
					checkStormErr(t, "Wait", ctx, err)
					cancel()
					if err == nil && (v < 1 || v > goroutines) {
						t.Errorf("round %d: Wait = %d", round, v)
					}
				case op == 2:
					<-c.Done()
					if _, ok := c.Get(); !ok {
						t.Errorf("round %d: Done closed before the value was visible", round)
					}
				default:
					if v, ok := c.Get(); ok && (v < 1 || v > goroutines) {
						t.Errorf("round %d: Get = %d", round, v)
					}
				}
			})
		}
		close(start)
		waitLive(t, &wg, func() string { return fmt.Sprintf("round %d: set=%v", round, c.Initialized()) })
		if t.Failed() {
			return
		}
		if n := winners.Load(); n != 1 {
			t.Fatalf("round %d: %d Sets won, want exactly 1", round, n)
		}
		if v, _ := c.Get(); v != int(winner.Load()) {
			t.Fatalf("round %d: Get = %d, the winner set %d", round, v, winner.Load())
		}
		if v, err := c.Wait(context.Background()); err != nil || v != int(winner.Load()) {
			t.Fatalf("round %d: Wait = %d, %v", round, v, err)
		}
		if w := gate.SetOnceWaiters(&c); w != 0 {
			t.Fatalf("round %d: %d waiters left", round, w)
		}
	}
}

// TestBroadcastStress runs senders (Send and SendWait under a cancellation
// storm) and receivers that join and leave all the time (Subscribe or
// Resubscribe, then Recv with storm contexts, TryRecv or Ready, then Close),
// beside receivers that stay from start to end. Each value carries its
// sender and that sender's count of successful sends. Every receiver sees
// each sender's values in increasing order; received + skipped (the lags'
// counts) equals the positions it moved over; a receiver that stays to the end
// accounts for every value sent after it subscribed. In the "sendwait"
// variant nobody ever lags: backpressure must hold with receivers joining
// and leaving, and those that stay see every value.
func TestBroadcastStress(t *testing.T) {
	const broadcastSeqBase = 1 << 24 // value = sender*broadcastSeqBase + seq; fits a 32-bit int
	for _, variant := range []string{"sendwait", "mixed"} {
		t.Run(variant, func(t *testing.T) {
			watchdog(t)
			const senders, stayers, churners = 3, 2, 3
			perSender := stormScale(3000)
			st := newStorm(2)
			tx, rx0 := gate.Broadcast[int](4)
			var sent atomic.Int64

			// check follows one receiver's values; it returns the count of
			// values received plus skipped.
			type follower struct {
				last  [senders]int // last seq seen per sender, -1 if none
				moved int          // received + skipped
			}
			newFollower := func() *follower {
				f := &follower{}
				for i := range f.last {
					f.last[i] = -1
				}
				return f
			}
			see := func(f *follower, v int, err error, what string) {
				le, isLag := err.(*gate.LaggedError)
				switch {
				case err == nil:
					s, seq := v/broadcastSeqBase, v%broadcastSeqBase
					if seq <= f.last[s] || variant == "sendwait" && f.last[s] >= 0 && seq != f.last[s]+1 {
						t.Errorf("%s: sender %d's value %d after %d", what, s, seq, f.last[s])
					}
					f.last[s] = seq
					f.moved++
				case isLag:
					if variant == "sendwait" {
						t.Errorf("%s: lagged %d under SendWait only", what, le.Skipped)
					}
					f.moved += int(le.Skipped)
				}
			}

			var wg sync.WaitGroup
			txs := []*gate.BroadcastSender[int]{tx}
			for len(txs) < senders {
				txs = append(txs, tx.Clone())
			}
			// The stayers subscribe before anything is sent.
			stayRx := []*gate.BroadcastReceiver[int]{rx0}
			for len(stayRx) < stayers {
				stayRx = append(stayRx, tx.Subscribe())
			}
			var sendersDone sync.WaitGroup
			for s, stx := range txs {
				sendersDone.Go(func() {
					r := rand.New(rand.NewPCG(uint64(s), 1))
					for seq := 0; seq < perSender; {
						v := s*broadcastSeqBase + seq
						var err error
						if variant == "mixed" && r.IntN(2) == 0 {
							_, err = stx.Send(v)
						} else {
							ctx, cancel := st.ctx(r)
							_, err = stx.SendWait(ctx, v)
							checkStormErr(t, "SendWait", ctx, err)
							cancel()
						}
						if err == nil {
							seq++
							sent.Add(1)
						}
					}
					stx.Close()
				})
			}
			for i, rx := range stayRx {
				wg.Go(func() {
					f := newFollower()
					for {
						v, err := rx.Recv(context.Background())
						if err == gate.ErrClosed {
							break
						}
						see(f, v, err, fmt.Sprintf("stayer %d", i))
					}
					if want := int(sent.Load()); f.moved != want {
						t.Errorf("stayer %d: received + skipped = %d, want %d sent", i, f.moved, want)
					}
					rx.Close()
				})
			}
			for c := range churners {
				wg.Go(func() {
					r := rand.New(rand.NewPCG(uint64(c), 2))
					var prev *gate.BroadcastReceiver[int]
					for round := 0; ; round++ {
						var rx *gate.BroadcastReceiver[int]
						if prev != nil && r.IntN(2) == 0 {
							rx = prev.Resubscribe()
						} else {
							rx = txs[r.IntN(senders)].Subscribe()
						}
						if prev != nil {
							prev.Close()
						}
						start := gate.BroadcastPosition(rx)
						f := newFollower()
						what := fmt.Sprintf("churner %d round %d", c, round)
						closed := false
						for range r.IntN(40) {
							var v int
							var err error
							switch r.IntN(3) {
							case 0:
								ctx, cancel := st.ctx(r)
								v, err = rx.Recv(ctx)
								if _, isLag := err.(*gate.LaggedError); !isLag {
									checkStormErr(t, what+": Recv", ctx, err, gate.ErrClosed)
								}
								cancel()
							case 1:
								v, err = rx.TryRecv()
							default:
								select {
								case <-rx.Ready():
									v, err = rx.TryRecv()
									if err == gate.ErrEmpty {
										t.Errorf("%s: Ready was receivable, TryRecv empty", what)
									}
								default:
									err = gate.ErrEmpty
								}
							}
							if err == gate.ErrClosed {
								closed = true
								break
							}
							see(f, v, err, what)
						}
						if got := int(gate.BroadcastPosition(rx) - start); got != f.moved {
							t.Errorf("%s: moved %d positions, received + skipped %d", what, got, f.moved)
						}
						prev = rx
						if closed || rx.IsClosed() {
							rx.Close()
							return
						}
						hold(r)
					}
				})
			}
			sendersDone.Wait()
			waitLive(t, &wg, func() string { return fmt.Sprintf("sent %d", sent.Load()) })
			st.stop() // after the churners, which take contexts from it to the end
			if n := tx.ReceiverCount(); n != 0 {
				t.Errorf("%d receivers left", n)
			}
			goleak.VerifyNone(t)
		})
	}
}

// TestMPSCStressNothingLost runs several producers on one mpsc channel under a
// cancellation storm: Send, TrySend and permit sends with random contexts,
// handles closed while other goroutines still send on them, and, in the
// "close" variants, the receiver closing midway. Every value whose send
// returned nil is received exactly once, each producer's values in the order
// it sent them, and no value whose send failed is received.
func TestMPSCStressNothingLost(t *testing.T) {
	watchdog(t)
	for _, capacity := range []int{1, 4, 64, -1} {
		for _, closeRx := range []bool{false, true} {
			t.Run(fmt.Sprintf("cap=%d/closeRx=%v", capacity, closeRx), func(t *testing.T) {
				defer goleak.VerifyNone(t)
				mpscStorm(t, capacity, closeRx)
			})
		}
	}
}

func mpscStorm(t *testing.T, capacity int, closeRx bool) {
	var tx *gate.MPSCSender[[2]int]
	var rx *gate.MPSCReceiver[[2]int]
	if capacity < 0 {
		tx, rx = gate.UnboundedMPSC[[2]int]()
	} else {
		tx, rx = gate.MPSC[[2]int](capacity)
	}
	const producers = 4
	perProducer := stormScale(3000)
	st := newStorm(2)
	sent := make([][]bool, producers) // sent[p][i]: the send of value i returned nil
	var wg sync.WaitGroup
	for p := range producers {
		sent[p] = make([]bool, perProducer)
		h := tx.Clone()
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(p), 7))
			// A second goroutine sends on the same handle and closes it
			// while this one may still be sending.
			var inner sync.WaitGroup
			half := perProducer / 2
			inner.Go(func() {
				r := rand.New(rand.NewPCG(uint64(p), 8))
				for i := half; i < perProducer; i++ {
					ctx, cancel := st.ctx(r)
					err := h.Send(ctx, [2]int{p, i})
					checkStormErr(t, "Send", ctx, err, gate.ErrClosed)
					sent[p][i] = err == nil
					cancel()
				}
				h.Close()
			})
			for i := range half {
				var err error
				ctx, cancel := st.ctx(r)
				switch r.IntN(4) {
				case 0:
					err = h.TrySend([2]int{p, i})
					checkStormErr(t, "TrySend", ctx, err, gate.ErrClosed, gate.ErrFull)
				case 1:
					var pm gate.MPSCPermit[[2]int]
					pm, err = h.Reserve(ctx)
					checkStormErr(t, "Reserve", ctx, err, gate.ErrClosed)
					if err == nil {
						hold(r)
						pm.Send([2]int{p, i})
					}
				default:
					err = h.Send(ctx, [2]int{p, i})
					checkStormErr(t, "Send", ctx, err, gate.ErrClosed)
				}
				sent[p][i] = err == nil
				cancel()
			}
			inner.Wait()
		})
	}
	tx.Close()

	// The receiver: Recv with random contexts, RecvMany, TryRecv; in the
	// close variant it closes after a while and drains.
	got := make([][]int, producers)
	r := rand.New(rand.NewPCG(1, 2))
	received := 0
	buf := make([][2]int, 8)
	recvDone := make(chan struct{})
	go func() {
		defer close(recvDone)
		for {
			if closeRx && received == perProducer {
				rx.Close()
			}
			var vs [][2]int
			var err error
			ctx, cancel := st.ctx(r)
			switch r.IntN(3) {
			case 0:
				var v [2]int
				v, err = rx.TryRecv()
				if err == gate.ErrEmpty {
					err = nil
					runtime.Gosched()
				} else if err == nil {
					vs = append(vs, v)
				}
			case 1:
				var n int
				n, err = rx.RecvMany(ctx, buf)
				vs = append(vs, buf[:n]...)
			default:
				var v [2]int
				v, err = rx.Recv(ctx)
				if err == nil {
					vs = append(vs, v)
				}
			}
			cancel()
			if err == gate.ErrClosed {
				return
			}
			if err != nil && !isCtxErr(ctx, err) {
				t.Errorf("receive: %v", err)
				return
			}
			for _, v := range vs {
				got[v[0]] = append(got[v[0]], v[1])
				received++
			}
		}
	}()
	waitLive(t, &wg, func() string { return fmt.Sprintf("received %d", received) })
	select {
	case <-recvDone:
	case <-time.After(stallTimeout):
		t.Fatalf("receiver did not finish: received %d", received)
	}
	st.stop()

	for p := range producers {
		// Per-sender order holds within each of the producer's two
		// goroutines; their values interleave. Check each half in order
		// and the whole as a set.
		seen := make([]int, perProducer)
		lastLo, lastHi := -1, -1
		for _, i := range got[p] {
			seen[i]++
			last := &lastLo
			if i >= perProducer/2 {
				last = &lastHi
			}
			if i <= *last {
				t.Fatalf("producer %d: value %d received after %d", p, i, *last)
			}
			*last = i
		}
		for i, ok := range sent[p] {
			if want := map[bool]int{true: 1}[ok]; seen[i] != want {
				t.Fatalf("producer %d: value %d received %d times; its send returned nil: %v", p, i, seen[i], ok)
			}
		}
	}
	if tx.Capacity() != capacity && !(capacity < 0 && tx.Capacity() == -1) {
		t.Fatalf("capacity %d at the end; want %d", tx.Capacity(), capacity)
	}
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
	watchdog(t)
	const producers, consumers = 3, 6
	items := stormScale(20000)
	total := int64(producers * items)
	seed := logSeed(t)

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
	watchdog(t)
	const waiters = 8
	rounds := stormScale(2000)
	seed := logSeed(t)

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
	watchdog(t)
	const parties, goroutines = 4, 7
	target := int64(stormScale(4000))
	seed := logSeed(t)

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

// TestWatchStressWaitClosedAfterResubscribe races the last receiver's Close
// with a Subscribe and a WaitClosed that follow it: the Close must not wake a
// WaitClosed that started while the new receiver was open (found by review:
// the count used to drop before the wait queue's lock was taken).
func TestWatchStressWaitClosedAfterResubscribe(t *testing.T) {
	watchdog(t)
	for i := range stormScale(2000) {
		tx, rx := gate.Watch(0)
		closed := make(chan struct{})
		go func() {
			rx.Close()
			close(closed)
		}()
		var rx2 *gate.WatchReceiver[int]
		for {
			rx2 = tx.Subscribe()
			if tx.ReceiverCount() == 1 {
				break // rx's Close counted it out first
			}
			rx2.Close()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Microsecond)
		err := tx.WaitClosed(ctx)
		cancel()
		<-closed
		if err == nil {
			t.Fatalf("round %d: WaitClosed = nil while a receiver subscribed before it is open", i)
		}
		rx2.Close()
		tx.Close()
	}
}

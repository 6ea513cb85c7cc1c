package gate

import "context"

// MaxPermits is the largest number of permits a Semaphore can hold, and the
// largest request AcquireN accepts (2^61-1: the state word keeps two bits for
// flags and one for the sign).
const MaxPermits = 1<<61 - 1

// A Semaphore is a weighted, fair, closable counting semaphore.
//
// It holds a number of permits. Acquire and AcquireN wait until enough are
// available and take them; the returned [Permit] gives them back on Release.
// Waiters are served strictly in the order they started waiting (FIFO), by
// request: a goroutine waiting for many permits at the head of the queue
// collects them as they are released and blocks smaller requests behind it,
// so large requests are never starved. No call, TryAcquire included, takes a
// permit while an earlier goroutine still waits for one.
//
// Close fails every waiter and every later acquire with [ErrClosed]; permits
// held at that time may still be released.
//
// The zero value is an open Semaphore with 0 permits. A Semaphore must not be
// copied after first use.
//
// In the terminology of the Go memory model, the n-th release of a permit
// synchronizes before the acquire that takes it, and AddPermits synchronizes
// before the acquires that its permits complete.
type Semaphore struct {
	_ noCopy
	s sem // bias 0: the word counts available permits directly
}

// NewSemaphore returns a Semaphore with the given number of permits. It panics
// if permits is negative or above MaxPermits.
func NewSemaphore(permits int) *Semaphore {
	if permits < 0 || permits > MaxPermits {
		panic("gate: NewSemaphore: permits out of range [0, MaxPermits]")
	}
	s := new(Semaphore)
	s.s.state.Store(permitField(int64(permits), 0))
	return s
}

// Acquire acquires one permit; it is AcquireN(ctx, 1).
func (s *Semaphore) Acquire(ctx context.Context) (Permit, error) {
	if s.s.acquireFast(1, 0) {
		return Permit{sem: s, n: 1}, nil
	}
	return s.acquireSlow(ctx, 1)
}

// AcquireN acquires n permits, waiting until they are available.
//
// It returns at once with the permits if they are available and nobody is
// queued, whatever the state of ctx. Otherwise it joins the FIFO queue and
// waits until its turn has come and n permits were handed to it. If ctx is
// done first it returns ctx.Err() and holds nothing: the permits it had
// collected go to the next waiters and it leaves the queue. If the semaphore
// is closed before the request is met it returns [ErrClosed].
//
// AcquireN(ctx, 0) returns an empty Permit at once unless the semaphore is
// closed. A request above MaxPermits returns [ErrTooMany]. AcquireN panics if n
// is negative.
func (s *Semaphore) AcquireN(ctx context.Context, n int) (Permit, error) {
	// Fast path (n > 0 and available, so n <= MaxPermits).
	if n > 0 && s.s.acquireFast(int64(n), 0) {
		return Permit{sem: s, n: int64(n)}, nil
	}
	return s.acquireSlow(ctx, n)
}

// acquireSlow is the slow path of Acquire and AcquireN, outlined so that the
// fast paths stay a load and a CAS: it checks n, then waits. (Neither fast
// path fits Go's inlining budget; see BENCHMARKS.md.)
func (s *Semaphore) acquireSlow(ctx context.Context, n int) (Permit, error) {
	if n < 0 {
		panic("gate: Semaphore.AcquireN: negative count")
	}
	if n > MaxPermits {
		return Permit{}, ErrTooMany
	}
	if err := s.s.acquireSlow(ctx, int64(n), 0); err != nil {
		return Permit{}, err
	}
	return Permit{sem: s, n: int64(n)}, nil
}

// TryAcquire acquires one permit without waiting. It returns [ErrClosed] if the
// semaphore is closed and [ErrNoPermits] if no permit is available or another
// goroutine is queued.
func (s *Semaphore) TryAcquire() (Permit, error) {
	return s.TryAcquireN(1)
}

// TryAcquireN acquires n permits without waiting. It returns [ErrClosed] if the
// semaphore is closed, then [ErrTooMany] if n is above MaxPermits, then
// [ErrNoPermits] if fewer than n are available or another goroutine is queued;
// on error it holds nothing. TryAcquireN(0) succeeds unless the semaphore is
// closed. It panics if n is negative.
func (s *Semaphore) TryAcquireN(n int) (Permit, error) {
	if n < 0 {
		panic("gate: Semaphore.TryAcquireN: negative count")
	}
	if n > MaxPermits {
		if s.IsClosed() {
			return Permit{}, ErrClosed
		}
		return Permit{}, ErrTooMany
	}
	if err := s.s.tryAcquire(int64(n), 0); err != nil {
		return Permit{}, err
	}
	return Permit{sem: s, n: int64(n)}, nil
}

// AddPermits adds n permits. They go to the queued waiters first, oldest
// first, and the rest become available. It works on a closed semaphore too
// (the count grows; the semaphore stays closed). It panics if n is negative or
// if the semaphore would hold more than MaxPermits free permits.
func (s *Semaphore) AddPermits(n int) {
	if n < 0 {
		panic("gate: Semaphore.AddPermits: negative count")
	}
	if n == 0 {
		return
	}
	const msg = "gate: Semaphore.AddPermits: would exceed MaxPermits"
	if n > MaxPermits {
		// Checked here: n<<2 would not fit the state word.
		panic(msg)
	}
	s.s.release(int64(n), 0, MaxPermits, msg)
}

// ForgetPermits removes up to n available permits and returns how many it
// removed. It does not touch permits that are held or already handed to a
// waiter, and a closed semaphore stays closed. It panics if n is negative.
func (s *Semaphore) ForgetPermits(n int) int {
	if n < 0 {
		panic("gate: Semaphore.ForgetPermits: negative count")
	}
	return int(s.s.forget(int64(n), 0))
}

// Available returns the number of permits available now. It is 0 while any
// goroutine is queued.
func (s *Semaphore) Available() int { return int(s.s.available(0)) }

// Close closes the semaphore: every queued waiter and every later acquire
// returns [ErrClosed]; a waiter's partial grant goes back to the count. Held
// permits may still be released and AddPermits still adds. Close is
// idempotent.
func (s *Semaphore) Close() { s.s.close() }

// IsClosed reports whether Close was called.
func (s *Semaphore) IsClosed() bool { return s.s.state.Load()&semClosed != 0 }

// A Permit holds permits of one [Semaphore]; Release gives them back. Its zero
// value holds none.
//
// A Permit is a value: Release and Forget clear the variable they are called
// on, so a second call on the same variable does nothing. A copy of a Permit
// holds the same permits; releasing both returns them twice, which panics if
// the semaphore would exceed MaxPermits and otherwise inflates its count, so
// do not copy a Permit that will be released.
type Permit struct {
	sem *Semaphore
	n   int64
}

// Release returns the permits to the semaphore (to its queued waiters first)
// and empties p. A second Release of the same variable does nothing.
func (p *Permit) Release() {
	if p.n == 0 {
		return
	}
	n := p.n
	p.n = 0
	// Fast path: one atomic add. The result must show nobody queued and no
	// wrap past MaxPermits (the permit field is never negative for bias 0).
	if new := p.sem.s.state.Add(uint64(n) << semPermitShift); new&semQueued != 0 || int64(new) < 0 {
		p.sem.s.releaseSlow(n, 0, MaxPermits, "gate: Permit.Release: would exceed MaxPermits")
	}
}

// Forget drops the permits without returning them: the semaphore's capacity
// shrinks by Count(). p is left empty.
func (p *Permit) Forget() { p.n = 0 }

// Count returns the number of permits p holds.
func (p *Permit) Count() int { return int(p.n) }

// Split moves n of p's permits into a new Permit of the same semaphore. It
// returns false, and changes nothing, if n > Count(). Split(0) returns an empty
// Permit. It panics if n is negative.
func (p *Permit) Split(n int) (Permit, bool) {
	if n < 0 {
		panic("gate: Permit.Split: negative count")
	}
	if int64(n) > p.n {
		return Permit{}, false
	}
	p.n -= int64(n)
	return Permit{sem: p.sem, n: int64(n)}, true
}

// Merge moves other's permits into p, leaving other empty; p.Merge(p) does
// nothing. It panics if p and other belong to different semaphores; the zero
// Permit belongs to none and merges with any. It also panics if the sum would
// exceed MaxPermits, which only copies of a Permit can reach.
func (p *Permit) Merge(other *Permit) {
	if other.sem == nil || other == p {
		return
	}
	if p.sem == nil {
		p.sem = other.sem
	} else if p.sem != other.sem {
		panic("gate: Permit.Merge: permits of different semaphores")
	}
	if other.n > MaxPermits-p.n {
		panic("gate: Permit.Merge: more than MaxPermits permits (a copied Permit?)")
	}
	p.n += other.n
	other.n = 0
}

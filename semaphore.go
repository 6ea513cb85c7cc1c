package gate

import (
	"context"
	"strconv"
)

// MaxPermits is the largest number of permits a Semaphore can hold, and the
// largest request AcquireN accepts: 2^61-1 where int has 64 bits, 2^29-1
// where it has 32. The state word is 64 bits on every platform; it keeps two
// bits for flags and one for the sign.
const MaxPermits = 1<<(strconv.IntSize-3) - 1

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
	s.s.init(int64(permits), 0)
	return s
}

// Acquire acquires one permit; it is AcquireN(ctx, 1).
func (s *Semaphore) Acquire(ctx context.Context) (Permit, error) {
	if ctx.Err() == nil && s.s.acquireFast(1, 0) {
		return Permit{sem: s, n: 1}, nil
	}
	return s.acquireSlow(ctx, 1)
}

// AcquireN acquires n permits, waiting until they are available.
//
// If ctx is already done it returns ctx.Err() and takes nothing, even if the
// permits are available. Otherwise it takes them at once if they are available
// and nobody is queued, or joins the FIFO queue and waits until its turn has
// come and n permits were handed to it. If ctx is done first it returns
// ctx.Err() and holds nothing: the permits it had collected go to the next
// waiters and it leaves the queue; permits that come back after its ctx
// ended go to the next waiter too, never to it. If the semaphore is closed
// before the request is met it returns [ErrClosed].
//
// The errors come in this order: a done ctx, then [ErrTooMany] for a request
// above MaxPermits (it could never succeed), then ErrClosed. AcquireN(ctx, 0)
// returns an empty Permit at once unless the ctx is done or the semaphore is
// closed. AcquireN panics if
// n is negative.
func (s *Semaphore) AcquireN(ctx context.Context, n int) (Permit, error) {
	// Fast path (n > 0 and available, so n <= MaxPermits).
	if n > 0 && ctx.Err() == nil && s.s.acquireFast(int64(n), 0) {
		return Permit{sem: s, n: int64(n)}, nil
	}
	return s.acquireSlow(ctx, n)
}

// acquireSlow is the slow path of Acquire and AcquireN, outlined so that the
// fast paths stay a ctx check, a load and a CAS: it checks n and the order of
// errors, then waits.
func (s *Semaphore) acquireSlow(ctx context.Context, n int) (Permit, error) {
	if n < 0 {
		panic("gate: Semaphore.AcquireN: negative count")
	}
	if err := ctx.Err(); err != nil {
		return Permit{}, err
	}
	if n > MaxPermits {
		return Permit{}, ErrTooMany // could never succeed: before ErrClosed
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

// TryAcquireN acquires n permits without waiting. It returns [ErrTooMany] if n
// is above MaxPermits, then [ErrClosed] if the semaphore is closed, then
// [ErrNoPermits] if fewer than n are available or another goroutine is queued;
// on error it holds nothing. TryAcquireN(0) succeeds unless the semaphore is
// closed. It panics if n is negative.
func (s *Semaphore) TryAcquireN(n int) (Permit, error) {
	if n < 0 {
		panic("gate: Semaphore.TryAcquireN: negative count")
	}
	if n > MaxPermits {
		return Permit{}, ErrTooMany // could never succeed: before ErrClosed
	}
	if err := s.s.tryAcquire(int64(n), 0); err != nil {
		return Permit{}, err
	}
	return Permit{sem: s, n: int64(n)}, nil
}

const (
	addPermitsPanic = "gate: Semaphore.AddPermits: would exceed MaxPermits"
	releasePanic    = "gate: Permit.Release: would exceed MaxPermits (a copied Permit?)"
)

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
	if n > MaxPermits {
		// Checked here: the release check below assumes n <= MaxPermits.
		panic(addPermitsPanic)
	}
	s.s.release(int64(n), 0, MaxPermits, addPermitsPanic)
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
func (s *Semaphore) IsClosed() bool { return s.s.closed() }

// A Permit holds permits of one [Semaphore]; Release gives them back. Its zero
// value holds none.
//
// Release and Forget empty the variable they are called on, so a second call
// on the same variable does nothing. A Permit must not be copied: a copy holds
// the same permits, and releasing both would return them twice, raising the
// semaphore's count for good (a Release that would push it past MaxPermits
// panics instead). A noCopy field makes go vet report copies; pass a *Permit.
type Permit struct {
	_   noCopy
	sem *Semaphore
	n   int64
}

// Release returns the permits to the semaphore (to its queued waiters first)
// and empties p. A second Release of the same variable does nothing.
func (p *Permit) Release() {
	if n := p.n; n != 0 {
		p.n = 0
		p.sem.s.release(n, 0, MaxPermits, releasePanic)
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

// Stats returns a snapshot of the waiting on s: the Acquire and AcquireN
// calls that parked.
func (s *Semaphore) Stats() Stats { return s.s.q.stats.snapshot() }

package gate

import (
	"context"
	"sync"
	"sync/atomic"
)

// This file is the core that every permit-based primitive of gate stands on:
// one atomic state word that the fast paths read and CAS without a lock, and
// one FIFO queue of parked goroutines that only the slow paths touch. It
// follows tokio's batch_semaphore (tokio/src/sync/batch_semaphore.rs), with
// two changes that make the fast paths as cheap as sync.Mutex's:
//
//   - the state word carries a "queued" bit, so a release that finds no
//     waiter is a single atomic add and never takes the queue lock (tokio's
//     release always locks);
//   - the permit count is stored relative to a per-user bias, so that the
//     all-zero word means "every permit available" for a Mutex (bias 1) and an
//     RWMutex (bias maxReaders), and their zero values work without a
//     constructor.

// noCopy may be embedded into structs which must not be copied after first
// use; go vet's copylocks check reports copies.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}

// State word of a sem.
//
// Bits (high to low):
//
//	63 ............................ 2 | 1      | 0
//	available permits - bias (signed) | queued | closed
//
// The permit field is a two's-complement integer: available = int64(state)>>2 + bias.
// Taking n permits subtracts n<<2 from the word and returning them adds n<<2;
// neither can carry into the flag bits.
const (
	semClosed      = 1 << iota // no permit is granted any more; set under mu, never cleared
	semQueued                  // the wait list is non-empty; set and cleared under mu only
	semPermitShift = iota      // shift of the permit field
	semFlags       = semClosed | semQueued
)

// Fairness.
//
// The semaphore is strictly FIFO and never lets a newcomer barge. A goroutine
// whose request does not fit (or that finds the queue non-empty) takes the
// queue lock, grabs every permit that is available as a partial grant, sets
// the queued bit in the same CAS and enqueues itself at the tail. From then on
// the available count stays 0 until the queue is empty again: a release hands
// its permits to the head waiter first (waking it only when its request is
// fully met), then to the next, and only the permits that nobody in the queue
// can take go back into the word. So:
//
//   - a large request at the head collects permits as they come back and is
//     never starved by smaller ones behind it;
//   - a TryAcquire right after a release fails while anyone is queued, because
//     the released permits went to the queue, not to the word;
//   - only the head waiter ever holds a partial grant.
//
// A simpler design would keep the count in the word and wake the head on every
// release, letting it retry its CAS. That is wrong for us: between the wake-up
// and the retry any goroutine can take the permits (barging), and a large
// request could wait forever behind a stream of small ones.
//
// Invariants (under mu): queued bit set ⇔ head != nil. While the bit is set,
// permits in the word are not available: they are in transit to the queue
// (see "In-transit permits" below) and only the head holds a partial grant.

// A sem is the batch semaphore. Its zero value has bias permits available and
// is open. The bias is not stored: each user passes its own constant (0 for a
// Semaphore, 1 for a Mutex, maxReaders for an RWMutex), so that the zero word is
// that user's natural initial state.
type sem struct {
	state atomic.Uint64 // see the bit map above

	// spare keeps up to two waiters, with their channels, whose last wait is
	// over, so that a contended primitive does not allocate on every park
	// (two, because with two holders two waiters may park at once; one slot
	// missed about one park in eight). A slot is taken with Swap and filled
	// with CompareAndSwap(nil, w): a waiter is owned by exactly one goroutine
	// at a time. Only this primitive reuses them.
	spare [2]atomic.Pointer[waiter]

	mu         sync.Mutex // guards the list below and every waiter's fields; held for a few instructions only
	head, tail *waiter    // FIFO wait list, oldest at head
}

// A waiter is one goroutine parked in sem.acquireSlow.
//
// Its fields other than ready are guarded by sem.mu. The goroutine that takes
// the waiter off the list (a release that fills its request, or close) sets
// them under mu and then sends one token on ready after unlocking; the parked
// goroutine reads them after receiving the token, which the send synchronizes
// before. The token leaves ready empty again, so the waiter (and its channel)
// can be reused by the next goroutine that parks on the same primitive.
type waiter struct {
	prev, next *waiter       // list links; next also chains the wake list once off the list
	n          int64         // permits requested
	needed     int64         // permits still missing; n - needed is the partial grant
	queued     bool          // on the wait list
	closed     bool          // taken off the list by close: the request failed
	ready      chan struct{} // capacity 1; one token once the waiter is off the list, by a grant or by close
}

// avail returns the permits available in state word s for a user with the
// given bias.
func avail(s uint64, bias int64) int64 { return int64(s)>>semPermitShift + bias }

// permitField returns the state word (without flags) in which n permits are
// available for a user with the given bias.
func permitField(n, bias int64) uint64 { return uint64(n-bias) << semPermitShift }

// available returns the number of permits available now: 0 while anyone is
// queued.
func (s *sem) available(bias int64) int64 {
	old := s.state.Load()
	if old&semQueued != 0 {
		return 0
	}
	return max(avail(old, bias), 0)
}

// tryAcquire takes n permits if they are available and nobody is queued. It
// never waits. n may be 0 (it then succeeds unless closed).
func (s *sem) tryAcquire(n, bias int64) error {
	for {
		old := s.state.Load()
		if old&semClosed != 0 {
			return ErrClosed
		}
		// With anyone queued only n == 0 can pass (it takes nothing from the
		// queue): permits in the word are then in transit to the queue.
		if avail(old, bias) < n || (n > 0 && old&semQueued != 0) {
			return ErrNoPermits
		}
		if n == 0 || s.state.CompareAndSwap(old, old-uint64(n)<<semPermitShift) {
			return nil
		}
		// Lost a race with another acquire or a release: look again.
	}
}

// acquireFast takes n > 0 permits if they are available and nobody is
// queued, with one load and one CAS, and reports whether it did. It is the
// fast path of every acquire; it is small enough to be inlined into the
// exported methods, whose slow path is acquireSlow. The flag test keeps it
// FIFO: while anyone is queued, permits in the word are in transit to the
// queue, not available.
func (s *sem) acquireFast(n, bias int64) bool {
	old := s.state.Load()
	return old&semFlags == 0 && avail(old, bias) >= n &&
		s.state.CompareAndSwap(old, old-uint64(n)<<semPermitShift)
}

// acquireSlow takes n permits, waiting in FIFO order until they are
// available, the semaphore is closed (ErrClosed) or ctx is done (ctx.Err(),
// nothing held, no place kept in the queue). ctx is only consulted if the call
// has to wait. It is the slow path behind acquireFast, outlined so that
// acquireFast can be inlined into the exported methods; it also serves n == 0.
func (s *sem) acquireSlow(ctx context.Context, n, bias int64) error {
	// Take a spare waiter before the lock, to keep the critical section
	// short: most calls that get here wait. The early returns put it back.
	w := s.takeSpare()
	s.mu.Lock()
	var got int64 // the partial grant taken from the word
	for {
		old := s.state.Load()
		if old&semClosed != 0 {
			s.unlockKeep(w)
			return ErrClosed
		}
		if n == 0 {
			// Nothing to wait for, even behind a queue.
			s.unlockKeep(w)
			return nil
		}
		a := avail(old, bias)
		if old&semQueued != 0 && a > 0 {
			// Permits in transit to the queue: they go to the waiters
			// ahead of us, not to us. Waking under mu is fine here (the
			// sends never block); this path is rare.
			wakeAll(s.sweepLocked(bias))
			continue
		}
		if old&semQueued == 0 && a >= n {
			// Permits came back while we took the lock; take them as usual.
			if s.state.CompareAndSwap(old, old-uint64(n)<<semPermitShift) {
				s.unlockKeep(w)
				return nil
			}
			continue
		}
		// We must wait. The context is consulted only now.
		if err := ctx.Err(); err != nil {
			s.unlockKeep(w)
			return err
		}
		if old&semQueued != 0 {
			// The queue is non-empty, so a == 0 (in-transit permits were
			// swept above): there is nothing to take and the word needs no
			// change. A release that adds permits from now on sees the bit
			// and sweeps them under mu, after we are on the list.
			break
		}
		// Take everything available as a partial grant and mark the queue
		// non-empty in one CAS, so that from now on every release sees the
		// queued bit and comes to the lock we hold (no lost wake-up), and no
		// newcomer can take permits ahead of us. The CAS fails if an
		// acquire or a release changed the word meanwhile: look again.
		if s.state.CompareAndSwap(old, permitField(0, bias)|semQueued) {
			got = a
			break
		}
	}
	if w == nil {
		w = &waiter{ready: make(chan struct{}, 1)}
	}
	w.n, w.needed, w.closed = n, n-got, false
	s.pushBack(w)
	s.mu.Unlock()

	done := ctx.Done()
	if done == nil {
		// A context that can never end (context.Background): a plain receive
		// is cheaper than a select.
		<-w.ready
	} else {
		select {
		case <-w.ready:
		case <-done:
			s.cancel(w, bias)
			return ctx.Err()
		}
	}
	// Off the list, by a grant or by close; the token is consumed, so the
	// waiter can be reused.
	closed := w.closed
	s.putSpare(w)
	if closed {
		return ErrClosed // close already returned our partial grant
	}
	// Granted. If ctx ended meanwhile, report that and pass the permits on,
	// so that "ctx done" always means "nothing held" once we noticed it.
	if done != nil {
		select {
		case <-done:
			s.release(n, bias, n, "")
			return ctx.Err()
		default:
		}
	}
	return nil
}

// unlockKeep unlocks mu and keeps w, if any, as a spare: for the returns of
// acquireSlow that did not wait.
func (s *sem) unlockKeep(w *waiter) {
	s.mu.Unlock()
	if w != nil {
		s.putSpare(w)
	}
}

// takeSpare returns a spare waiter, or nil.
func (s *sem) takeSpare() *waiter {
	for i := range s.spare {
		if s.spare[i].Load() != nil {
			if w := s.spare[i].Swap(nil); w != nil {
				return w
			}
		}
	}
	return nil
}

// putSpare keeps w for reuse if a slot is free.
func (s *sem) putSpare(w *waiter) {
	for i := range s.spare {
		if s.spare[i].CompareAndSwap(nil, w) {
			return
		}
	}
}

// cancel takes a waiter whose context ended out of the queue and passes on
// whatever it was granted: a partial grant to the next waiters (or back to the
// word), a full grant (the waiter was already dequeued by a release) the same
// way. A waiter dequeued by close holds nothing.
func (s *sem) cancel(w *waiter, bias int64) {
	s.mu.Lock()
	if w.queued {
		s.remove(w)
		wake := s.grantLocked(w.n-w.needed, bias)
		s.mu.Unlock()
		wakeAll(wake)
		s.putSpare(w) // no token will come: reusable
		return
	}
	s.mu.Unlock()
	// Already off the list: its token is on the way, so w is not reused.
	if !w.closed {
		s.release(w.n, bias, w.n, "")
	}
}

// release returns n permits: to the queued waiters first, FIFO, then to the
// word. When nobody is queued it is one atomic add. It panics with msg if that
// would leave more than max permits free (available, plus in transit, plus the
// head's partial grant); msg == "" means the caller knows the count is right.
func (s *sem) release(n, bias, max int64, msg string) {
	new := s.state.Add(uint64(n) << semPermitShift)
	// a < n can only be a wrap past MaxPermits: the add cannot lose permits.
	if a := avail(new, bias); new&semQueued != 0 || a < n || (msg != "" && a > max) {
		s.releaseSlow(n, bias, max, msg)
	}
}

// releaseSlow finishes a release whose atomic add (of n permits, already
// done) found the queue non-empty or the count out of range. Under mu it
// checks the count (undoing the add and panicking with msg if it is too high)
// and sweeps the permits in transit to the waiters.
func (s *sem) releaseSlow(n, bias, max int64, msg string) {
	s.mu.Lock()
	if msg != "" {
		a := avail(s.state.Load(), bias)
		free := a
		if s.head != nil {
			free += s.head.n - s.head.needed
		}
		if a < 0 || free > max {
			s.state.Add(-uint64(n) << semPermitShift)
			s.mu.Unlock()
			panic(msg)
		}
	}
	wake := s.sweepLocked(bias)
	s.mu.Unlock()
	wakeAll(wake)
}

// In-transit permits.
//
// A release adds its permits to the word with one atomic add, without looking
// at the queue first (that is what makes it as cheap as sync.Mutex's Unlock).
// If the add's result shows the queued bit, the permits did not become
// available: they are in transit to the queue, and the releaser takes mu and
// sweeps them (and any other releaser's) to the waiters. So while the queued
// bit is set, permits in the word belong to the queue: acquireFast refuses on
// the bit, tryAcquire and forget treat them as absent, and acquireSlow sweeps
// them to the queue before it joins it. A sweep that finds the bit clear (the
// queue emptied meanwhile) leaves them where they are: available.

// sweepLocked moves the permits in transit (those in the word while the
// queued bit is set) to the waiters and returns the waiters to wake. mu must
// be held.
func (s *sem) sweepLocked(bias int64) (wake *waiter) {
	for {
		old := s.state.Load()
		a := avail(old, bias)
		if old&semQueued == 0 || a <= 0 {
			return nil
		}
		if s.state.CompareAndSwap(old, old-uint64(a)<<semPermitShift) {
			return s.grantLocked(a, bias)
		}
	}
}

// grantLocked gives n permits to the waiters, oldest first, and the rest to the
// word. A waiter whose request is met leaves the queue and is chained on the
// returned wake list; the first one whose request is not met keeps what it got
// as a partial grant and stops the hand-out (no skipping ahead: strict FIFO).
// The caller wakes the list after unlocking mu. mu must be held.
func (s *sem) grantLocked(n, bias int64) (wake *waiter) {
	var last *waiter
	for n > 0 && s.head != nil {
		w := s.head
		if n < w.needed {
			w.needed -= n
			return wake // everything went into the head's partial grant
		}
		n -= w.needed
		w.needed = 0
		s.remove(w)
		if last == nil {
			wake = w
		} else {
			last.next = w
		}
		last = w
	}
	if s.head == nil {
		// Nobody is left to take permits: clear the queued bit and put the
		// rest into the word in one step. The bit may already be clear (a
		// cancel that emptied the queue); the CAS loop is needed because
		// lock-free acquires and releases run once the bit is clear.
		for {
			old := s.state.Load()
			if s.state.CompareAndSwap(old, (old+uint64(n)<<semPermitShift)&^semQueued) {
				break
			}
		}
	}
	return wake
}

// close marks the semaphore closed and fails every queued waiter with
// ErrClosed; their partial grants go back to the word, which keeps its count.
func (s *sem) close() {
	s.mu.Lock()
	var back int64
	wake := s.head
	for w := s.head; w != nil; w = w.next {
		back += w.n - w.needed
		w.queued = false
		w.closed = true
	}
	s.head, s.tail = nil, nil
	for {
		old := s.state.Load()
		if s.state.CompareAndSwap(old, (old+uint64(back)<<semPermitShift)&^semQueued|semClosed) {
			break
		}
	}
	s.mu.Unlock()
	wakeAll(wake) // the list is still chained through next
}

// forget removes up to n available permits and returns how many it removed.
// It keeps the closed bit and never touches the queue or a partial grant.
func (s *sem) forget(n, bias int64) int64 {
	for {
		old := s.state.Load()
		take := min(n, avail(old, bias))
		if take <= 0 || old&semQueued != 0 {
			return 0 // permits in the word while queued are in transit
		}
		if s.state.CompareAndSwap(old, old-uint64(take)<<semPermitShift) {
			return take
		}
	}
}

// pushBack appends w to the wait list. mu must be held.
func (s *sem) pushBack(w *waiter) {
	w.queued = true
	w.prev, w.next = s.tail, nil // a reused waiter may still be chained on an old wake list
	if s.tail == nil {
		s.head = w
	} else {
		s.tail.next = w
	}
	s.tail = w
}

// remove unlinks w from the wait list in O(1) and clears its next link, so
// that the caller may chain it on a wake list. mu must be held. The queued bit
// in the word is left for grantLocked to clear.
func (s *sem) remove(w *waiter) {
	if w.prev == nil {
		s.head = w.next
	} else {
		w.prev.next = w.next
	}
	if w.next == nil {
		s.tail = w.prev
	} else {
		w.next.prev = w.prev
	}
	w.prev, w.next = nil, nil
	w.queued = false
}

// wakeAll wakes every waiter chained on a wake list. It runs without mu: a
// woken goroutine never has to wait for the lock its waker still holds. next
// is read before the send, after which the waiter may run and be reused. The
// send never blocks: ready has room for the one token of this wait.
func wakeAll(w *waiter) {
	for w != nil {
		next := w.next
		w.ready <- struct{}{}
		w = next
	}
}

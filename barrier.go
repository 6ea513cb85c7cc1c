package gate

import "context"

// A Barrier lets a fixed number of goroutines wait until all of them have
// reached it, then releases them together and starts over.
//
// Each round is a generation: the first n-1 goroutines that call
// [Barrier.Wait] wait; the n-th completes the generation, is its leader, and
// releases the others. Unlike tokio's Barrier, waiting can be cancelled: a
// goroutine whose ctx ends before its generation completes withdraws its
// arrival, so the generation still needs n live goroutines.
//
// Make a Barrier with [NewBarrier]. The zero Barrier has no size to wait for:
// its Wait panics. A Barrier must not be copied after first use.
//
// In the terminology of the Go memory model, every call of Wait that takes
// part in a generation synchronizes before every one of them returns: what
// each goroutine wrote before it arrived is seen by all of them after.
type Barrier struct {
	_ noCopy
	n int // goroutines per generation, >= 1; 0 only in a zero Barrier

	// q holds the waiters of the current generation, oldest first: the
	// arrivals not yet released, so the number arrived is its length and
	// needs no count of its own. Each waiter parks on a channel of its own
	// through the core; the leader takes them all off the list and wakes
	// each once.
	q waitQueue
}

// NewBarrier returns a Barrier that releases n goroutines at a time. n == 0
// acts as 1. It panics if n is negative.
func NewBarrier(n int) *Barrier {
	if n < 0 {
		panic("gate: NewBarrier: negative count")
	}
	return &Barrier{n: max(n, 1)}
}

// Wait waits until n goroutines (counting this one) wait in the same
// generation, and reports whether this one was its leader: the one that
// arrived last, completed the generation and released the others. Each
// generation has exactly one leader.
//
// If ctx is already done, Wait returns (false, ctx.Err()) without arriving.
// If ctx is done before the generation completes, Wait withdraws its arrival
// (the generation still needs n goroutines) and returns (false, ctx.Err()); a
// waiter whose generation completed before its ctx ended returns
// (false, nil). The leader allocates nothing; a waiter that parks allocates
// one channel, and its waiter struct when more than two park at once. Wait
// panics on a zero Barrier (one not made by NewBarrier).
func (b *Barrier) Wait(ctx context.Context) (leader bool, err error) {
	if b.n == 0 {
		panic("gate: Barrier.Wait on a zero Barrier: make it with NewBarrier")
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	// Queue without a channel: the leader of this generation may arrive
	// while we yield (spin), and then this arrival costs no allocation and
	// no park.
	w := b.q.spareWaiter(ctx)
	var l wakeList
	b.q.mu.Lock()
	if b.completeLocked(&l) {
		// The last one: release the others.
		b.q.takeAll(&l, wokeGranted)
		b.q.mu.Unlock()
		l.wake()
		b.q.putWaiter(w)
		return true, nil
	}
	b.q.pushBack(w)
	b.q.mu.Unlock()
	l.wake()
	if !b.q.spin(w, barrierSpins) {
		err = park(ctx, w)
	}
	if err != nil && b.q.withdraw(w) {
		// Still queued: the generation has not completed; take the
		// arrival back.
		b.q.mu.Unlock()
	} else if w.status == wokeCancelled {
		err = ctx.Err()
	} else {
		err = nil
	}
	w.stats.end(w, err != nil)
	b.q.putWaiter(w)
	return false, err
}

// Stats returns a snapshot of the waiting on b: the Wait calls that parked
// for their generation to complete.
func (b *Barrier) Stats() Stats { return b.q.stats.snapshot() }

// completeLocked reports whether the caller's arrival completes the
// generation: n-1 others wait. Before it counts them it takes off the list,
// with wokeCancelled, every waiter whose ctx has already ended, adding it to
// l (the caller wakes l after unlocking mu): an arrival whose ctx ended
// before the generation completed is withdrawn, even if its goroutine has
// not run yet to withdraw it, so which came first is decided here, under
// mu. mu must be held.
func (b *Barrier) completeLocked(l *wakeList) bool {
	if int(b.q.waiting.Load())+1 < b.n {
		return false
	}
	for w := b.q.head; w != nil; {
		next := w.next
		if w.cancelled() {
			b.q.remove(w)
			w.status = wokeCancelled
			l.add(w)
		}
		w = next
	}
	return int(b.q.waiting.Load())+1 >= b.n
}

// barrierSpins is how many times a waiter yields the processor, queued and
// so counted as arrived, looking whether the leader took it, before it
// makes its channel and parks: with as many goroutines as processors or more
// the others often arrive within that many scheduling rounds.
const barrierSpins = 2

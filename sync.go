package gate

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// This file is the core that every primitive of gate stands on. It has
// these parts, and no other file parks a goroutine, makes a wake-up channel
// or uses sync.Cond:
//
//   - the wait queue: a [waiter] (one parked goroutine, or one armed Ready),
//     a FIFO [waitQueue] of them guarded by a short sync.Mutex, one [park]
//     that waits for a wake-up or the end of a ctx, a [wakeList] that wakes
//     what a critical section took off the list, and [waitQueue.waitFor],
//     the wait of every call that waits for a condition of its primitive's
//     state word (a receive, WaitClosed, the cells' Wait);
//   - readiness ([readiness]): the channel behind every receiver's Ready, a
//     waiter of its own that a wake-up sends a token to instead of closing;
//   - handles ([handle], [handles]): a channel handle's own closed flag, the
//     open handles of each side, WaitClosed, and the sweep with which a
//     Close ends the calls in flight on its handle;
//   - the batch semaphore ([sem]), after tokio's batch_semaphore
//     (tokio/src/sync/batch_semaphore.rs): an atomic state word that the fast
//     paths read and CAS without a lock, plus accounting of permits on top of
//     a waitQueue. Semaphore, Mutex, RWMutex, the bounded mpsc channel's
//     senders and OnceCell's initialization are built on it.
//
// A wait parks on a receive from a channel that the parking goroutine made
// for this one wait. That is what makes gate testable in testing/synctest: a
// goroutine blocked on a channel made in its own bubble is durably blocked,
// and a channel made for one wait is never used by a goroutine of another
// bubble, or outside any, so a package-level primitive works in one bubble
// after another and outside them. The waiter structs around the channels are
// reused (they hold no channel between waits), so a park allocates one
// channel and nothing else. Wake order is the queue's, never the runtime's.
// (Some waits first yield the processor a few times with runtime.Gosched,
// still queued, when the event they wait for is usually a few instructions
// away: that is harmless in a synctest bubble.)
//
// The one exception to "a channel per wait" is a receiver's Ready: it hands
// out a channel for the caller's own select, made by the first Ready call and
// kept with the receiver, so that a select loop allocates nothing. That
// channel belongs to the bubble of the goroutine that first called Ready
// (see doc.go).
//
// Cancellation. A grant (permits, a notification) is given under the queue's
// mu; a waiter records its ctx's Done channel when it queues, and the granter
// looks at it, under mu, before it gives anything: a waiter whose ctx ended
// first is taken off the list as cancelled and the grant goes on to the next
// one. So "which came first" is decided in one place, under the lock, and a
// waiter that sees a grant returns success, one that sees a cancellation
// ctx.Err(), whatever order its own select saw the two channels in.

// noCopy may be embedded into structs which must not be copied after first
// use; go vet's copylocks check reports copies.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}

// closedChan is a channel closed at package initialization: what a Ready or
// Done method returns when something is there already, so that the caller's
// select proceeds at once without an allocation. It is made outside any
// synctest bubble and never blocks, so goroutines of every bubble, and
// outside them, may receive from it.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// A doneSignal is a channel closed once, made only if somebody asks for it
// before: SetOnce.Done, like a context's Done. Its zero value has no
// channel. The first get before close makes one (it belongs to the caller's
// synctest bubble, see doc.go) and swaps it in with a CAS, so that of two
// first calls one channel wins and both return it; after close every get
// returns closedChan, which belongs to no bubble.
type doneSignal struct{ p atomic.Pointer[chan struct{}] }

// get returns the channel, or closedChan once isSet reports true (set is
// published before close is called).
func (d *doneSignal) get(isSet func() bool) <-chan struct{} {
	if p := d.p.Load(); p != nil {
		return *p
	}
	if isSet() {
		return closedChan // close is about to come: no channel of our own
	}
	ch := make(chan struct{})
	if d.p.CompareAndSwap(nil, &ch) {
		// Ours is in. A close after our look at isSet finds it and closes it.
		return ch
	}
	return *d.p.Load() // another get's channel, or closedChan from close
}

// close closes the channel, if one was made, once: a get after it returns
// closedChan.
func (d *doneSignal) close() {
	if ch := d.p.Swap(&closedChan); ch != nil && ch != &closedChan {
		close(*ch)
	}
}

// A waiter is one goroutine parked, or about to park, on a waitQueue, or
// one receiver's armed Ready (a token waiter, see readiness).
//
// Its fields other than ready are guarded by the queue's mu while it is on
// the list. The goroutine that takes it off the list for a wake-up sets
// status (and whatever accounting its primitive keeps) under mu, unlocks, and
// then closes ready; the parked goroutine reads them after its receive from
// ready, which the close synchronizes before.
type waiter struct {
	prev, next *waiter       // list links; next also chains a wake list once off the list
	ready      chan struct{} // made by the parking goroutine for this wait (newWaiter); closed once by wake; a token waiter's is its receiver's Ready channel
	queued     bool          // on the list
	token      bool          // a receiver's Ready: a wake-up sends a token on ready (under mu) instead of closing it

	// done is the waiting call's ctx.Done() (nil for a ctx that never ends,
	// and for token waiters), set before the waiter queues. A granter looks
	// at it under mu (cancelled) to tell a waiter whose ctx ended before the
	// grant, so that the grant goes to the next waiter instead.
	done <-chan struct{}
	// owner is the handle whose Close ends this wait (handle.closeWaiters),
	// or nil.
	owner *handle
	// stats counts this wait if it parks: its queue's, or its owner's
	// (handle.stats) when the primitive keeps them per handle. start is when
	// it parked.
	stats *waitStats
	start time.Time

	// Accounting for the primitive that owns the queue. The batch semaphore
	// keeps the permits requested (n) and still missing (needed: n - needed
	// is the partial grant); Notify and Barrier use n for their own counts.
	n, needed int64
	// taken is set, under mu, when a waker takes a spinning waiter (one
	// queued without a channel, see waitQueue.spin) off the list, so that it can
	// look without the lock.
	taken atomic.Bool
	// status says why the waiter was woken, set by the waker before wake.
	// 0 (wokeGranted) means it got what it waited for; the other values are
	// the owner's (wokeClosed, Notify's kinds of notification, …).
	status uint8
}

// Values of waiter.status shared by every primitive. A primitive may define
// its own from wokeOwner on.
const (
	wokeGranted   uint8 = iota // got what it waited for
	wokeClosed                 // the primitive, the other side or the waiter's own handle closed
	wokeCancelled              // its ctx ended before a grant came: the grant went on
	wokeOwner                  // first value free for a primitive's own use
)

// cancelled reports whether w's ctx has ended. A granter calls it under mu
// before it gives w anything: a cancelled waiter is taken off the list with
// wokeCancelled and the grant goes to the next. It receives from the Done
// channel without blocking, which for an open channel is one load.
func (w *waiter) cancelled() bool {
	if w.done == nil {
		return false
	}
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

// A waitQueue is a FIFO list of waiters, oldest at the head, with the lock
// that guards it and a few spare waiter structs for reuse. Its zero value is
// an empty queue. It must not be copied after first use.
//
// mu is held for a few instructions at a time: list operations and the
// owner's accounting, never a blocking channel operation, an allocation or
// a call into a Context (the non-blocking looks of waiter.cancelled and the
// token sends of a wakeList are the only channel operations under it).
// Wake-ups happen after unlocking, so that a woken goroutine never has to
// wait for the lock its waker still holds.
type waitQueue struct {
	mu         sync.Mutex // guards head, tail and the fields of every waiter on the list
	head, tail *waiter

	// waiting counts the waiters on the list. It changes under mu and is
	// read without it by wakers that publish a change of their primitive's
	// state word and then look whether anyone waits for it (notify): the
	// waiter counts itself in before it looks at the state word, the waker
	// changes the word before it looks at the count, so one of them sees
	// the other (both are sequentially consistent atomics).
	waiting atomic.Int32

	// stats counts the waits that park on this queue (waitStats), unless a
	// waiter counts on its handle's.
	stats waitStats

	// spare keeps up to two waiter structs (without their channels) whose
	// wait is over, so that a contended primitive allocates only a channel
	// per park. Two, because with two holders two goroutines may park at
	// once. A slot is taken with Swap and filled with CompareAndSwap(nil, w):
	// a waiter is owned by one goroutine at a time.
	spare [2]atomic.Pointer[waiter]
}

// newWaiter returns a waiter, off any list, with a new ready channel, for a
// call whose ctx is ctx. The channel is made here, by the goroutine that
// will wait on it: this is the one allocation of a park. Call it before
// taking mu.
func (q *waitQueue) newWaiter(ctx context.Context) *waiter {
	w := q.spareWaiter(ctx)
	w.ready = make(chan struct{})
	return w
}

// spareWaiter returns a waiter without a channel, off any list, for a call
// whose ctx is ctx: a spare, or a new one. newWaiter adds the channel; a
// waiter that spins before it parks (waitQueue.spin) adds it later.
func (q *waitQueue) spareWaiter(ctx context.Context) *waiter {
	var w *waiter
	for i := range q.spare {
		if q.spare[i].Load() != nil {
			if w = q.spare[i].Swap(nil); w != nil {
				break
			}
		}
	}
	if w == nil {
		w = new(waiter)
	}
	w.status = wokeGranted
	w.taken.Store(false)
	w.done = ctx.Done()
	w.stats = &q.stats
	return w
}

// putWaiter keeps w for reuse if a slot is free. w must be off the list and
// no waker may still hold it: either it was never queued, it was removed by
// its own goroutine, or its ready channel has been closed and received from.
// Its channel is dropped: a channel made in one synctest bubble must not be
// waited on by the next user, who may be in another.
func (q *waitQueue) putWaiter(w *waiter) {
	w.ready, w.next, w.prev, w.done, w.owner, w.stats = nil, nil, nil, nil, nil, nil
	for i := range q.spare {
		if q.spare[i].CompareAndSwap(nil, w) {
			return
		}
	}
}

// empty reports whether no waiter is queued. mu must be held.
func (q *waitQueue) empty() bool { return q.head == nil }

// pushBack appends w to the list. mu must be held.
func (q *waitQueue) pushBack(w *waiter) {
	w.queued = true
	w.prev, w.next = q.tail, nil
	if q.tail == nil {
		q.head = w
	} else {
		q.tail.next = w
	}
	q.tail = w
	q.waiting.Add(1)
}

// remove unlinks w from the list in O(1) and clears its links, so that the
// caller may chain it on a wake list. mu must be held and w must be queued.
func (q *waitQueue) remove(w *waiter) {
	if w.prev == nil {
		q.head = w.next
	} else {
		w.prev.next = w.next
	}
	if w.next == nil {
		q.tail = w.prev
	} else {
		w.next.prev = w.prev
	}
	w.prev, w.next = nil, nil
	w.queued = false
	q.waiting.Add(-1)
}

// popFront removes and returns the oldest waiter, or nil. mu must be held.
func (q *waitQueue) popFront() *waiter {
	w := q.head
	if w != nil {
		q.remove(w)
	}
	return w
}

// popBack removes and returns the newest waiter, or nil. mu must be held.
func (q *waitQueue) popBack() *waiter {
	w := q.tail
	if w != nil {
		q.remove(w)
	}
	return w
}

// A wakeList collects, under mu, the waiters that a critical section took off
// the list, and wakes them after mu is unlocked. Its zero value is empty.
//
// A waiter is woken in the way it waits: a parked one by closing its ready
// channel (after unlocking); a token waiter (an armed Ready) by a token sent
// at once, under mu, so that no token of an earlier arming can arrive after
// its receiver re-armed (readiness.arm drains under mu); a spinning waiter,
// which has no channel yet, by its taken flag.
type wakeList struct{ head, tail *waiter }

// add takes w, already off the list with its status set, for a wake-up. mu
// must be held.
func (l *wakeList) add(w *waiter) {
	switch {
	case w.token:
		select {
		case w.ready <- struct{}{}:
		default: // a token is there already
		}
	case w.ready == nil:
		w.taken.Store(true) // a spinning waiter: it sees the flag
	default:
		w.next = nil
		if l.tail == nil {
			l.head = w
		} else {
			l.tail.next = w
		}
		l.tail = w
	}
}

// wake wakes every waiter of the list, without mu. next is read before the
// close, after which the waiter's goroutine may run and reuse it.
func (l *wakeList) wake() {
	for w := l.head; w != nil; {
		next := w.next
		close(w.ready)
		w = next
	}
}

// takeAll takes every waiter off the list, with status, for a wake-up. mu
// must be held.
func (q *waitQueue) takeAll(l *wakeList, status uint8) {
	for w := q.popFront(); w != nil; w = q.popFront() {
		w.status = status
		l.add(w)
	}
}

// wakeAll takes every waiter off q and wakes it with status wokeGranted:
// what the goroutine that made a waitFor condition true calls next.
func (q *waitQueue) wakeAll() {
	var l wakeList
	q.mu.Lock()
	q.takeAll(&l, wokeGranted)
	q.mu.Unlock()
	l.wake()
}

// notify is wakeAll for a waker on a fast path: it takes mu only if anyone
// waits, which costs one load when nobody does. The caller has published
// its change of state (with an atomic write) before it calls notify; see
// waitQueue.waiting for why no wake-up is lost.
func (q *waitQueue) notify() {
	if q.waiting.Load() != 0 {
		q.wakeAll()
	}
}

// park blocks until w is woken (nil) or ctx is done (ctx.Err()). After an
// error the caller decides under mu whether w is still queued (withdraw it)
// or was woken at the same time (then its ready channel is or will shortly be
// closed, and w.status says whether the grant or the cancellation came
// first). Every park of every primitive goes through here, and so does its
// count in w.stats; the caller that settles the wait reports its end with
// waitStats.end.
func park(ctx context.Context, w *waiter) error {
	w.stats.begin(w)
	done := ctx.Done()
	if done == nil {
		// A context that can never end (context.Background): a plain
		// receive is cheaper than a select.
		<-w.ready
		return nil
	}
	select {
	case <-w.ready:
		return nil
	case <-done:
		return ctx.Err()
	}
}

// A Stats is a snapshot of the waiting on one primitive, for metrics and
// debugging: what tokio-console shows per resource, as a Go value to export
// to Prometheus, OpenTelemetry or expvar. Only calls that park are counted,
// where they park (in the core, once for every primitive), so a call that
// does not wait costs nothing more. Durations come from the clock: inside a
// synctest bubble they are the bubble's.
type Stats struct {
	Waiting   int           // goroutines parked on it now
	Waits     uint64        // calls that parked, since it was made
	Cancelled uint64        // of those, the ones that ended because their ctx did
	WaitTime  time.Duration // total time parked, over the waits that have ended
	MaxWait   time.Duration // the longest single park that has ended
}

// waitStats counts the parks of one queue (or one handle's waits). Every
// field is an atomic, written only on the slow path of a wait that parks
// (begin, end) and read by snapshot; its zero value counts nothing yet.
type waitStats struct {
	waiting             atomic.Int64
	waits, cancelled    atomic.Uint64
	waitTime, maxWaitNS atomic.Int64
}

// begin counts w's park in; its end (end) counts it out.
func (st *waitStats) begin(w *waiter) {
	if st == nil || !w.start.IsZero() {
		return // not counted, or parks a second time in one wait
	}
	w.start = time.Now()
	st.waits.Add(1)
	st.waiting.Add(1)
}

// end counts the wait of w out, if it parked, as cancelled or not, and makes
// w ready to be counted again. The goroutine that parked w calls it once its
// wait is settled (it knows then whether it returns ctx.Err()).
func (st *waitStats) end(w *waiter, cancelled bool) {
	if st == nil || w.start.IsZero() {
		return
	}
	d := int64(time.Since(w.start))
	w.start = time.Time{}
	st.waiting.Add(-1)
	if cancelled {
		st.cancelled.Add(1)
	}
	st.waitTime.Add(d)
	for {
		m := st.maxWaitNS.Load()
		if d <= m || st.maxWaitNS.CompareAndSwap(m, d) {
			break
		}
	}
}

// snapshot returns the counts of st added to those of more (a primitive
// whose waits park on several queues adds them up).
func (st *waitStats) snapshot(more ...*waitStats) Stats {
	var s Stats
	for _, q := range append([]*waitStats{st}, more...) {
		s.Waiting += int(q.waiting.Load())
		s.Waits += q.waits.Load()
		s.Cancelled += q.cancelled.Load()
		s.WaitTime += time.Duration(q.waitTime.Load())
		s.MaxWait = max(s.MaxWait, time.Duration(q.maxWaitNS.Load()))
	}
	return s
}

// withdraw is called by a goroutine whose park returned a ctx error. Under mu
// it removes w from the list if it is still there and returns true, with mu
// still held so that the owner can pass on what w held; the caller unlocks.
// If w was already taken off the list by a waker, it unlocks mu, waits for the
// wake-up that is on its way (its waker is running, between its unlock and
// its close) and returns false: w.status says what came first.
func (q *waitQueue) withdraw(w *waiter) bool {
	q.mu.Lock()
	if w.queued {
		q.remove(w)
		return true
	}
	q.mu.Unlock()
	<-w.ready
	return false
}

// waitFor parks on q until ready reports true (nil), owner is closed
// (ErrClosed) or ctx ends (ctx.Err(), having left q). A done ctx fails it
// first, then a closed owner; ready is then checked once without the lock,
// so a call that need not wait allocates nothing.
//
// ready is checked again under q.mu after the waiter has counted itself in
// (waitQueue.waiting), so the goroutine that makes it true and then calls
// q.notify or q.wakeAll either is seen by the check or finds the waiter
// queued: no wake-up is lost. A waiter woken as its ctx ended returns nil:
// the wake-up came first. It is the wait of every call that waits for a
// change of its primitive's state word: a receive (the caller loops: take
// the value, or waitFor again), WaitClosed, the cells' Wait. owner may be nil.
func (q *waitQueue) waitFor(ctx context.Context, owner *handle, ready func() bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if owner != nil && owner.closed.Load() {
		return ErrClosed
	}
	if ready() {
		return nil
	}
	w := q.newWaiter(ctx)
	w.owner = owner
	if owner != nil && owner.stats != nil {
		w.stats = owner.stats
	}
	q.mu.Lock()
	q.pushBack(w)
	if ok := ready(); ok || (owner != nil && owner.closed.Load()) {
		// The look under mu decides: a condition that can turn false again
		// (a free slot) must not be looked at a second time.
		q.remove(w)
		q.mu.Unlock()
		q.putWaiter(w)
		if ok {
			return nil
		}
		return ErrClosed
	}
	q.mu.Unlock()
	err := park(ctx, w)
	if err != nil && q.withdraw(w) {
		q.mu.Unlock()
	} else if w.status == wokeClosed {
		err = ErrClosed
	} else {
		err = nil
	}
	w.stats.end(w, err != nil && err != ErrClosed)
	q.putWaiter(w)
	return err
}

// waitUntil is waitFor with no owner: a wait that no handle's Close ends.
func (q *waitQueue) waitUntil(ctx context.Context, ready func() bool) error {
	return q.waitFor(ctx, nil, ready)
}

// A readiness is what a receiver's Ready returns: a channel of capacity one,
// made by the first Ready call and kept, and the token waiter that puts it on
// its primitive's wait queue while armed. A wake-up of the queue sends a
// token on the channel (wakeList.add), so the receiver's select proceeds;
// the queue's wakers need not know that it is a Ready and not a parked Recv.
// The zero value is unarmed. It is owned by one receiver and armed by one
// goroutine at a time (the receiver's user), and woken by any.
type readiness struct{ w waiter }

// arm returns a channel that is receivable once has reports true, and at
// once (closedChan) if it already does. has is the receiver's TryRecv
// condition ("something other than nothing yet"); the wakers of q call
// q.notify or q.notifyFresh, or take the waiters some other way, after each
// change that can make it true. Arming again drops a token of an earlier
// arming that was not received. It allocates only the first time.
//
// stamp says what the receiver had seen when it armed (a position, a
// version), written under mu: a waker that publishes without mu and wakes
// afterwards may be late, its change already taken by the receiver before
// this arming; notifyFresh leaves a token waiter whose stamp shows that
// alone, so that a receive from the channel is never stale (API.md, Select:
// nothing is invented). Wakers that publish under mu (or whose change,
// like a close, stays) need no stamp.
func (rd *readiness) arm(q *waitQueue, has func() bool, stamp int64) <-chan struct{} {
	if has() {
		return closedChan
	}
	w := &rd.w
	if w.ready == nil {
		w.ready, w.token = make(chan struct{}, 1), true
	}
	q.mu.Lock()
	select {
	case <-w.ready: // a token nobody received: drop it (tokens are sent under mu)
	default:
	}
	w.n = stamp
	if !w.queued {
		q.pushBack(w)
	}
	if has() {
		// It came meanwhile: no token needed, leave the list.
		q.remove(w)
		q.mu.Unlock()
		return closedChan
	}
	q.mu.Unlock()
	return w.ready
}

// notifyFresh is notify for a waker that published its change without mu:
// it wakes every waiter except the token waiters for which stale(stamp)
// reports that the change is one their receiver had already seen when it
// armed (readiness.arm); those stay armed for the next change.
func (q *waitQueue) notifyFresh(stale func(stamp int64) bool) {
	if q.waiting.Load() == 0 {
		return
	}
	var l wakeList
	q.mu.Lock()
	for w := q.head; w != nil; {
		next := w.next
		if !w.token || !stale(w.n) {
			q.remove(w)
			w.status = wokeGranted
			l.add(w)
		}
		w = next
	}
	q.mu.Unlock()
	l.wake()
}

// A handle is what every channel handle has of its own: the flag its Close
// sets, and where its waits are counted if the primitive keeps Stats per
// handle (a broadcast or watch receiver: its own Recv, Changed). The calls
// that wait on behalf of a handle carry it as their waiter's owner, so that
// its Close ends them (closeWaiters). The zero value is open and counts its
// waits on the queue they park on.
type handle struct {
	closed atomic.Bool
	stats  *waitStats // nil: count on the queue
}

// close sets h's flag and reports whether this call set it (Close is
// idempotent: only the first call does the rest of the closing).
func (h *handle) close() bool { return h.closed.CompareAndSwap(false, true) }

// closeWaiters ends, with ErrClosed, every call waiting on q for h. A
// handle's Close calls it for each queue its calls may wait on, after
// h.close: a call that queues later sees the flag under mu (waitFor,
// sem.enqueueLocked) and does not wait.
func (q *waitQueue) closeWaiters(h *handle) {
	if q.waiting.Load() == 0 {
		return
	}
	var l wakeList
	q.mu.Lock()
	for w := q.head; w != nil; {
		next := w.next
		if w.owner == h {
			q.remove(w)
			w.status = wokeClosed
			l.add(w)
		}
		w = next
	}
	q.mu.Unlock()
	l.wake()
}

// Sides of a channel, indexes of handles.open.
const (
	senders   = 0
	receivers = 1
)

// handles counts the open handles of each side of a channel and parks the
// WaitClosed callers, which wait for a side to have none left. The
// channel's constructor counts its first handles in with open.
type handles struct {
	open [2]atomic.Int64 // open handles of senders and of receivers
	q    waitQueue       // WaitClosed callers
}

// add counts a new open handle of side in (Clone, Subscribe).
func (hs *handles) add(side int) { hs.open[side].Add(1) }

// done counts a closed handle of side out and reports whether it was the
// last one of its side; then it wakes the WaitClosed callers.
func (hs *handles) done(side int) (last bool) {
	if hs.open[side].Add(-1) != 0 {
		return false
	}
	hs.q.notify()
	return true
}

// addIfOpen counts a new open handle of side in if side has one open still,
// and reports whether it did: a weak handle's Upgrade. Once every handle of
// a side has closed, that side stays closed.
func (hs *handles) addIfOpen(side int) bool {
	for {
		n := hs.open[side].Load()
		if n == 0 {
			return false
		}
		if hs.open[side].CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// gone reports whether side has no open handle.
func (hs *handles) gone(side int) bool { return hs.open[side].Load() == 0 }

// isClosed is the IsClosed of every handle: h itself is closed, or every
// handle of the other side is.
func (hs *handles) isClosed(h *handle, other int) bool {
	return h.closed.Load() || hs.gone(other)
}

// waitClosed is the WaitClosed of every handle h: it waits until every handle
// of side other is closed (nil), h is closed (ErrClosed: before or during
// the wait) or ctx ends.
func (hs *handles) waitClosed(ctx context.Context, h *handle, other int) error {
	return hs.q.waitFor(ctx, h, func() bool { return hs.gone(other) })
}

// State word of a sem.
//
// Bits (high to low):
//
//	63 ............................ 2 | 1      | 0
//	available permits - bias (signed) | queued | closed
//
// The permit field is a two's-complement integer: available =
// int64(state)>>2 + bias. Taking n permits subtracts n<<2 from the word and
// returning them adds n<<2; since available stays within [0, MaxPermits] and
// bias within [0, MaxReaders], neither can carry into the flag bits or wrap.
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
// queue lock, takes every permit that is available as a partial grant, sets
// the queued bit in the same CAS and enqueues itself at the tail. From then
// on, until the queue is empty again, the word holds no available permit and
// only holders of mu change it: the lock-free paths (acquireFast,
// tryAcquire, forget, release's first CAS) refuse or step aside when they see
// the queued bit. A release that sees the bit takes mu and hands its permits
// to the head waiter first (waking it only when its request is fully met),
// then to the next; only the permits that nobody in the queue can take go
// back into the word, in the same CAS that clears the bit. So:
//
//   - a large request at the head collects permits as they come back and is
//     never starved by smaller ones behind it;
//   - a TryAcquire, or an Acquire, right after a release fails or queues while
//     anyone is queued, because the released permits went to the queue;
//   - only the head waiter ever holds a partial grant.
//
// A simpler design would keep the count in the word and wake the head on every
// release, letting it retry its CAS. That is wrong for us: between the wake-up
// and the retry any goroutine can take the permits (barging), and a large
// request could wait forever behind a stream of small ones.
//
// Invariants (under mu): queued bit set ⇔ the list is non-empty, and then the
// available count in the word is 0.

// A sem is the batch semaphore. Its zero value has bias permits available and
// is open. The bias is not stored: each user passes its own constant (0 for a
// Semaphore, 1 for a Mutex, maxReaders for an RWMutex), so that the zero word
// is that user's natural initial state.
type sem struct {
	state atomic.Uint64 // see the bit map above
	q     waitQueue     // its mu guards the list and every queued waiter's n and needed
}

// avail returns the permits available in state word s for a user with the
// given bias.
func avail(s uint64, bias int64) int64 { return int64(s)>>semPermitShift + bias }

// permits returns the amount to add to or subtract from a state word to move
// n permits.
func permits(n int64) uint64 { return uint64(n) << semPermitShift }

// init sets the initial number of available permits. It is for constructors,
// before the sem is shared.
func (s *sem) init(n, bias int64) { s.state.Store(permits(n - bias)) }

// available returns the number of permits available now: 0 while anyone is
// queued.
func (s *sem) available(bias int64) int64 {
	return max(avail(s.state.Load(), bias), 0)
}

// closed reports whether close was called.
func (s *sem) closed() bool { return s.state.Load()&semClosed != 0 }

// acquireFast takes n > 0 permits if they are available and nobody is
// queued, with one load and one CAS, and reports whether it did. It is the
// fast path of every acquire and small enough to be inlined into the
// exported methods, whose slow path is acquireSlow. The flag test keeps it
// from taking anything from a closed semaphore; while anyone is queued the
// word holds no available permit, so the count test alone would refuse too.
func (s *sem) acquireFast(n, bias int64) bool {
	old := s.state.Load()
	return old&semFlags == 0 && avail(old, bias) >= n &&
		s.state.CompareAndSwap(old, old-permits(n))
}

// tryAcquire takes n permits if they are available and nobody is queued. It
// never waits. n may be 0 (it then succeeds unless closed).
func (s *sem) tryAcquire(n, bias int64) error {
	for {
		old := s.state.Load()
		if old&semClosed != 0 {
			return ErrClosed
		}
		if n == 0 {
			return nil
		}
		if old&semQueued != 0 || avail(old, bias) < n {
			return ErrNoPermits
		}
		if s.state.CompareAndSwap(old, old-permits(n)) {
			return nil
		}
		// Lost a race with another acquire or a release: look again.
	}
}

// acquireSlow takes n >= 0 permits, waiting in FIFO order until they are
// available, the semaphore is closed (ErrClosed) or ctx is done (ctx.Err(),
// nothing held, no place kept in the queue). A ctx that is already done fails
// the call before anything else. It is the slow path behind acquireFast,
// outlined so that acquireFast can be inlined into the exported methods.
func (s *sem) acquireSlow(ctx context.Context, n, bias int64) error {
	return s.acquireSlowSpin(ctx, nil, n, bias, 0)
}

// acquireSlowSpin is acquireSlow for a caller on behalf of a handle (owner,
// or nil), whose Close ends the wait with ErrClosed, and whose permits
// usually come back within a few scheduling rounds (a bounded mpsc sender
// waiting for the receiver to free a slot): once queued, and so keeping its
// place in line, it yields the processor up to spins times, looking for its
// grant, before it parks. Yielding before queueing instead would let a later
// caller take the permits first. A waiter that spins queues without a
// channel and makes one only if it still has to park, so a grant that comes
// while it spins costs no allocation.
func (s *sem) acquireSlowSpin(ctx context.Context, owner *handle, n, bias int64, spins int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if n == 0 {
		// Nothing to wait for, even behind a queue.
		if s.closed() || (owner != nil && owner.closed.Load()) {
			return ErrClosed
		}
		return nil
	}
	// Most calls that get here wait: make the waiter (and its channel, if it
	// parks at once) before the lock, to keep the critical section short.
	var w *waiter
	if spins > 0 {
		w = s.q.spareWaiter(ctx)
	} else {
		w = s.q.newWaiter(ctx)
	}
	w.owner = owner
	s.q.mu.Lock()
	queued, err := s.enqueueLocked(w, n, bias)
	s.q.mu.Unlock()
	if !queued {
		s.q.putWaiter(w)
		return err
	}
	return s.parkAndSettle(ctx, w, bias, spins)
}

// enqueueLocked is the first half of a slow acquire, under mu: it takes the n
// permits at once if they came back meanwhile (queued false, err nil), fails
// on a closed semaphore or a closed owner handle (queued false, ErrClosed),
// or takes every available permit as w's partial grant, marks the queue
// non-empty in the same CAS and appends w (queued true). The owner's flag is
// read under mu, so a Close that sets it and then sweeps the queue
// (closeWaiters) either finds w queued or is seen here.
func (s *sem) enqueueLocked(w *waiter, n, bias int64) (queued bool, err error) {
	if w.owner != nil && w.owner.closed.Load() {
		return false, ErrClosed
	}
	for {
		old := s.state.Load()
		if old&semClosed != 0 {
			return false, ErrClosed
		}
		a := avail(old, bias)
		if old&semQueued == 0 && a >= n {
			// Permits came back while we took the lock; take them as usual.
			if s.state.CompareAndSwap(old, old-permits(n)) {
				return false, nil
			}
			continue
		}
		// We must wait. With the queue already non-empty, a == 0 and the
		// word needs no change. Otherwise take everything available as a
		// partial grant and set the queued bit in one CAS, so that from now
		// on every release sees the bit and comes to mu (no lost wake-up),
		// and no newcomer takes permits ahead of us. The CAS fails if a
		// lock-free acquire or release changed the word meanwhile: look
		// again.
		if old&semQueued != 0 || s.state.CompareAndSwap(old, permits(-bias)|semQueued) {
			if old&semQueued != 0 {
				a = 0
			}
			w.n, w.needed = n, n-a
			s.q.pushBack(w)
			return true, nil
		}
	}
}

// parkAndSettle is the second half of a slow acquire: it parks w until its
// request is met (nil), the semaphore or w's owner closes (ErrClosed) or ctx
// ends. A waiter whose ctx ends while it is still queued leaves the queue
// and passes its partial grant on, returning ctx.Err(); so does one that a
// granter found cancelled (wokeCancelled: its ctx ended before the grant,
// which went on). One whose grant or close came first returns what that
// brought. With spins > 0 it first yields up to spins times, still queued,
// and settles at once if its wake-up came meanwhile.
func (s *sem) parkAndSettle(ctx context.Context, w *waiter, bias int64, spins int) error {
	var err error
	if w.ready != nil || !s.q.spin(w, spins) {
		err = park(ctx, w)
	}
	if err != nil && s.q.withdraw(w) {
		// Still queued: gone now. Its partial grant goes to the next
		// waiters; grantLocked also clears the queued bit if we were the
		// last.
		var l wakeList
		s.grantLocked(&l, w.n-w.needed, bias)
		s.q.mu.Unlock()
		l.wake()
	} else {
		switch w.status {
		case wokeClosed:
			err = ErrClosed
		case wokeCancelled:
			err = ctx.Err()
		default:
			err = nil
		}
	}
	w.stats.end(w, err != nil && err != ErrClosed)
	s.q.putWaiter(w)
	return err
}

// spin yields the processor up to spins times while w, queued on q without
// a channel, waits for a waker to take it off the list, looking at w.taken;
// then it gives w a channel to park on. It reports whether w was taken off
// the list (w.status says why), in which case w has no channel and needs
// none. A waker takes a waiter without a channel off the list under mu, sets
// its taken flag and does not wake it (wakeList.add): the spinner sees the
// flag at its next look, or finds it off the list when it takes mu to
// install its channel. The channel is made here, by the goroutine that parks
// on it, for this one park. Spinning while queued keeps the waiter's place
// in line; spinning before queueing would let a later caller go first.
func (q *waitQueue) spin(w *waiter, spins int) (taken bool) {
	for range spins {
		runtime.Gosched()
		if w.taken.Load() {
			return true // status was set before taken, under mu
		}
	}
	ready := make(chan struct{})
	q.mu.Lock()
	defer q.mu.Unlock()
	if !w.queued {
		return true
	}
	w.ready = ready
	return false
}

// release returns n > 0 permits: to the queued waiters first, FIFO, then to
// the word. It panics with msg, changing nothing, if that would leave more
// than max permits free (available, plus the head waiter's partial grant):
// an Unlock of an unlocked Mutex, a released copy of a Permit, an AddPermits
// past MaxPermits. The check comes before the permits are published, so no
// goroutine ever sees a count out of range. When nobody is queued it is one
// load and one CAS (releaseFast).
func (s *sem) release(n, bias, max int64, msg string) {
	if !s.releaseFast(n, bias, max) {
		s.releaseSlow(n, bias, max, msg)
	}
}

// releaseFast returns n permits to the word with one load and one CAS if
// nobody is queued and the count stays in range, and reports whether it did.
func (s *sem) releaseFast(n, bias, max int64) bool {
	// The permit field may grow to max-bias-n: the word, flags included,
	// must stay below the field max-bias-n+1.
	old := s.state.Load()
	return old&semQueued == 0 && int64(old) < int64(permits(max-bias-n+1)) &&
		s.state.CompareAndSwap(old, old+permits(n))
}

// releaseSlow finishes a release whose first CAS did not succeed: it retries
// without a lock while nobody is queued, and otherwise hands the permits to
// the waiters under mu.
func (s *sem) releaseSlow(n, bias, max int64, msg string) {
	for {
		old := s.state.Load()
		if old&semQueued != 0 {
			break
		}
		if avail(old, bias) > max-n {
			panic(msg)
		}
		if s.state.CompareAndSwap(old, old+permits(n)) {
			return
		}
	}
	s.q.mu.Lock()
	if s.state.Load()&semQueued == 0 {
		// The queue emptied before we took the lock: start over.
		s.q.mu.Unlock()
		s.releaseSlow(n, bias, max, msg)
		return
	}
	// Queued: the word holds no available permit, so what is free is the
	// head's partial grant.
	if h := s.q.head; h.n-h.needed > max-n {
		s.q.mu.Unlock()
		panic(msg)
	}
	var l wakeList
	s.grantLocked(&l, n, bias)
	s.q.mu.Unlock()
	l.wake()
}

// grantLocked gives n permits to the waiters, oldest first, and the rest to
// the word. A waiter whose request is met leaves the queue and is added to
// l; the first one whose request is not met keeps what it got as a partial
// grant and stops the hand-out (no skipping ahead: strict FIFO). A waiter
// whose ctx has ended (waiter.cancelled) gets nothing: it leaves the queue
// with wokeCancelled, and its partial grant joins what is handed out, so a
// grant never goes to a waiter that was cancelled before it. If the queue
// ends up empty, the rest goes into the word in the CAS that clears the
// queued bit (n may be 0 then: a cancel that emptied the queue). The caller
// wakes l after unlocking mu. mu must be held.
func (s *sem) grantLocked(l *wakeList, n, bias int64) {
	for n > 0 && !s.q.empty() {
		w := s.q.head
		if w.cancelled() {
			s.q.remove(w)
			n += w.n - w.needed
			w.status = wokeCancelled
			l.add(w)
			continue
		}
		if n < w.needed {
			w.needed -= n
			return // everything went into the head's partial grant
		}
		n -= w.needed
		w.needed = 0
		w.status = wokeGranted
		s.q.remove(w)
		l.add(w)
	}
	if s.q.empty() {
		// Lock-free releases may race with this CAS until the bit is clear
		// (they fail theirs on seeing it): loop.
		for {
			old := s.state.Load()
			if s.state.CompareAndSwap(old, (old+permits(n))&^semQueued) {
				break
			}
		}
	}
}

// close marks the semaphore closed and fails every queued waiter with
// ErrClosed; their partial grants go back to the word, which keeps its count.
func (s *sem) close() {
	var l wakeList
	s.q.mu.Lock()
	s.closeLocked(&l)
	s.q.mu.Unlock()
	l.wake()
}

// closeLocked is close under mu, for a user that changes its own state in
// the same critical section (OnceCell stores its value). The waiters to wake
// after unlocking are added to l. A waiter whose ctx had ended is woken with
// wokeCancelled: a done ctx is reported before ErrClosed.
func (s *sem) closeLocked(l *wakeList) {
	var back int64
	for w := s.q.popFront(); w != nil; w = s.q.popFront() {
		back += w.n - w.needed
		w.status = wokeClosed
		if w.cancelled() {
			w.status = wokeCancelled
		}
		l.add(w)
	}
	for {
		old := s.state.Load()
		if s.state.CompareAndSwap(old, (old+permits(back))&^semQueued|semClosed) {
			return
		}
	}
}

// closeWaiters ends, with ErrClosed, every acquire waiting on behalf of
// handle h (a Close of a bounded mpsc sender ends its Send and Reserve), and
// passes their partial grants on to the waiters behind them. h's flag must
// be set first (handle.close): an acquire that queues later sees it.
func (s *sem) closeWaiters(h *handle, bias int64) {
	if s.q.waiting.Load() == 0 {
		return
	}
	var l wakeList
	var back int64
	s.q.mu.Lock()
	for w := s.q.head; w != nil; {
		next := w.next
		if w.owner == h {
			s.q.remove(w)
			back += w.n - w.needed
			w.status = wokeClosed
			l.add(w)
		}
		w = next
	}
	if s.state.Load()&semQueued != 0 {
		s.grantLocked(&l, back, bias)
	}
	s.q.mu.Unlock()
	l.wake()
}

// reopenLocked turns a closed semaphore that nobody holds permits of back
// into an open one with n available: OnceCell.Take empties a cell whose
// close kept its one permit. mu must be held, the semaphore must be closed
// (so nobody is queued: close took them all, and acquires fail on the closed
// bit without queueing), and nobody may hold or forget its permits: then no
// lock-free path changes the word (acquires refuse a closed word, and there
// is nothing to release), so a plain store overwrites nothing.
func (s *sem) reopenLocked(n, bias int64) {
	s.state.Store(permits(n - bias))
}

// forget removes up to n available permits and returns how many it removed.
// It keeps the closed bit and never touches the queue or a partial grant.
func (s *sem) forget(n, bias int64) int64 {
	for {
		old := s.state.Load()
		take := min(n, avail(old, bias))
		if take <= 0 {
			return 0 // none available (always so while anyone is queued)
		}
		if s.state.CompareAndSwap(old, old-permits(take)) {
			return take
		}
	}
}

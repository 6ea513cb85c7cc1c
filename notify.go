package gate

import (
	"context"
	"sync/atomic"
)

// A Notify wakes goroutines that wait for an event.
//
// It works like a semaphore that holds at most one permit. [Notify.NotifyOne]
// wakes the goroutine that has waited longest, or, if none waits, stores the
// permit (calls while it is stored do nothing more), which the next
// [Notify.Wait] takes and returns at once. [Notify.NotifyLast] is the same but
// wakes the goroutine that started waiting last. [Notify.NotifyWaiters] wakes
// every goroutine that waits and completes every [Notified] created before the
// call, waited on yet or not; it stores no permit and leaves a stored one in
// place. A waiter whose ctx has ended is never chosen: the notification goes
// to the next one.
//
// A goroutine that checks a condition and then waits for it to change must
// create its [Notified] before it checks, so that a NotifyWaiters that comes in
// between is not lost:
//
//	for {
//		wait := n.Notified()
//		if ready() {
//			break
//		}
//		if err := wait.Wait(ctx); err != nil {
//			return err
//		}
//	}
//
// With NotifyOne, a stored permit makes the check-then-wait order safe without
// a Notified: n.Wait(ctx) returns at once if the event came in between.
//
// The zero value is a Notify with no permit stored and nobody waiting. A
// Notify must not be copied after first use.
//
// In the terminology of the Go memory model, a call of NotifyOne or NotifyLast
// synchronizes before the return of the Wait that it completes, directly or
// through the stored permit, and a call of NotifyWaiters synchronizes before
// the return of every Wait that it completes.
type Notify struct {
	_ noCopy

	// state is the word described by the bit map above notifyWaiting.
	state atomic.Uint64

	// q is the FIFO list of waiters: goroutines in Wait, and enabled
	// Notifieds. Its mu guards the list, the fields of every queued waiter
	// and every change of state while anyone waits. Every wait parks on a
	// channel of its own through the core (park), so wake-ups follow the
	// list's order, never the runtime's.
	q waitQueue
}

// State word of a Notify, after tokio's notify.rs.
//
// Bits (high to low):
//
//	63 ................... 2 | 1        | 0
//	NotifyWaiters generation | notified | waiting
//
// waiting: the list is non-empty. notified: the permit is stored. notified
// is never set together with waiting: NotifyOne gives the permit to a waiter
// when there is one.
//
// The generation counts the calls of NotifyWaiters; a Notified records it
// when it is created, and one that finds it changed has been completed by
// such a call, without taking the stored permit.
//
// Who changes what:
//   - while nobody waits (waiting clear), setting notified (NotifyOne,
//     NotifyLast), clearing it (a Wait that takes the permit) and a
//     generation change (NotifyWaiters) are lock-free CASes;
//   - waiting is set and cleared under mu only, and while it is set only
//     holders of mu change the word (the lock-free paths step aside), so a
//     holder of mu may change it with a plain store. A waiter about to wait
//     sets waiting with a CAS of the whole word, so it sees a permit or a
//     new generation that a lock-free CAS made first.
//
// Invariant (under mu): waiting ⇔ the list is non-empty.
const (
	notifyWaiting  = 1 << iota           // the list is non-empty
	notifyNotified                       // the permit is stored
	notifyGenShift = iota                // shift of the generation
	notifyGenOne   = 1 << notifyGenShift // one NotifyWaiters call
)

// Values of waiter.status for a waiter of a Notify taken off the list by a
// notification: which kind it was, so that a Notified that is cancelled
// before it has observed a NotifyOne or NotifyLast can pass it on with the
// same strategy. A NotifyWaiters notification is not passed on. A waiter that
// a notification found cancelled (waiter.cancelled) is taken off with
// wokeCancelled instead and the notification goes to the next.
const (
	notifiedByOne  = wokeOwner + iota // NotifyOne: next goes to the oldest waiter
	notifiedByLast                    // NotifyLast: next goes to the newest waiter
	notifiedByAll                     // NotifyWaiters
)

// NotifyOne wakes the goroutine that has waited longest, skipping waiters
// whose ctx has ended. If none waits, it stores the permit, so that the next
// [Notify.Wait] (or [Notified.Enable]) returns at once; at most one permit is
// stored.
//
// With nobody waiting, NotifyOne, NotifyLast and NotifyWaiters are a load
// and a CAS each.
func (n *Notify) NotifyOne() {
	// Fast path: nobody waits, store the permit. The CAS is made even when
	// the permit is already stored, so that what this call follows is
	// published to the Wait that takes the permit.
	if s := n.state.Load(); s&notifyWaiting != 0 || !n.state.CompareAndSwap(s, s|notifyNotified) {
		n.notifySlow(notifiedByOne)
	}
}

// NotifyLast wakes the goroutine that started waiting last, skipping waiters
// whose ctx has ended. If none waits, it stores the permit, as
// [Notify.NotifyOne] does.
func (n *Notify) NotifyLast() {
	if s := n.state.Load(); s&notifyWaiting != 0 || !n.state.CompareAndSwap(s, s|notifyNotified) {
		n.notifySlow(notifiedByLast)
	}
}

// notifySlow is the slow path of NotifyOne and NotifyLast: it retries the CAS
// while nobody waits and otherwise wakes a waiter under mu.
func (n *Notify) notifySlow(kind uint8) {
	for {
		s := n.state.Load()
		if s&notifyWaiting != 0 {
			break
		}
		// Lost a race with a Wait taking the permit or a NotifyWaiters.
		if n.state.CompareAndSwap(s, s|notifyNotified) {
			return
		}
	}
	var l wakeList
	n.q.mu.Lock()
	n.notifyLocked(&l, kind)
	n.q.mu.Unlock()
	l.wake()
}

// notifyLocked delivers one notification of kind notifiedByOne or
// notifiedByLast: to the oldest or newest waiter whose ctx has not ended,
// or, with none, as the stored permit. The waiters it takes off the list
// (the one notified, and the cancelled ones it skipped, with wokeCancelled)
// are added to l, to be woken after mu is unlocked. mu must be held.
func (n *Notify) notifyLocked(l *wakeList, kind uint8) {
	for {
		var w *waiter
		if kind == notifiedByLast {
			w = n.q.popBack()
		} else {
			w = n.q.popFront()
		}
		if w == nil {
			break
		}
		if w.cancelled() {
			// Its ctx ended before this notification: it must not swallow
			// it. It returns ctx.Err(); the next one is tried.
			w.status = wokeCancelled
			l.add(w)
			continue
		}
		w.status = kind
		l.add(w)
		n.leftLocked()
		return
	}
	// Nobody waits (and, mu being held, nobody can start to): store the
	// permit. Lock-free CASes (a Wait taking the permit, a NotifyOne, a
	// NotifyWaiters) may race with ours once waiting is clear: retry.
	for {
		s := n.state.Load()
		if n.state.CompareAndSwap(s, s&^notifyWaiting|notifyNotified) {
			return
		}
	}
}

// NotifyWaiters wakes every goroutine that waits and completes every
// [Notified] created before the call, whether it has been waited on or
// enabled yet or not: their Wait returns nil (a waiter whose ctx had ended
// before the call returns ctx.Err()). It stores no permit and leaves a
// stored one in place. A Notified created after the call, or a Wait that
// starts after it, is not affected. It costs one wake-up per waiter and
// allocates nothing.
func (n *Notify) NotifyWaiters() {
	// Fast path: nobody waits, so only the generation changes; a stored
	// permit stays. A waiter about to wait fails its CAS and sees the new
	// generation.
	if s := n.state.Load(); s&notifyWaiting != 0 || !n.state.CompareAndSwap(s, s+notifyGenOne) {
		n.notifyWaitersSlow()
	}
}

// notifyWaitersSlow is the slow path of NotifyWaiters: it bumps the
// generation and takes every waiter under mu, then wakes them.
func (n *Notify) notifyWaitersSlow() {
	var l wakeList
	n.q.mu.Lock()
	// With waiting clear, lock-free CASes may race with ours; with it set,
	// nothing else changes the word, and this CAS also clears it.
	for {
		s := n.state.Load()
		if n.state.CompareAndSwap(s, s&^notifyWaiting+notifyGenOne) {
			break
		}
	}
	for w := n.q.popFront(); w != nil; w = n.q.popFront() {
		// An enabled Notified that has not parked has no channel: the
		// wake list leaves it alone, and its Wait finds it off the list.
		w.status = notifiedByAll
		if w.cancelled() {
			w.status = wokeCancelled
		}
		l.add(w)
	}
	n.q.mu.Unlock()
	l.wake()
}

// Wait waits for a notification: it is n.Notified().Wait(ctx), without the
// allocation of a Notified.
//
// If ctx is already done, Wait returns ctx.Err() at once and takes nothing,
// even if a permit is stored. Otherwise it takes the stored permit and returns
// nil if there is one, or waits in FIFO order for [Notify.NotifyOne],
// [Notify.NotifyLast] or [Notify.NotifyWaiters]. If ctx is done first, it
// returns ctx.Err() and leaves the queue, taking nothing (a notification that
// came after goes to the next waiter); a waiter that was notified before its
// ctx ended returns nil (the notification is not lost). A wait that parks
// allocates one channel, and its waiter struct when more than two Waits
// park at once (the queue keeps two spare ones).
func (n *Notify) Wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// Fast path: take the stored permit.
	s := n.state.Load()
	if s&notifyNotified != 0 && n.state.CompareAndSwap(s, s&^notifyNotified) {
		return nil
	}
	return n.waitSlow(ctx, s>>notifyGenShift)
}

// waitSlow is the slow path of Notify.Wait, outlined so that the fast path
// stays short; gen is the generation of the Notified this Wait stands for.
// It waits with a spare waiter struct of the queue, queued without a
// channel: a notification that comes while it spins (notifySpins) costs no
// allocation and no park; one that comes later, one channel.
func (n *Notify) waitSlow(ctx context.Context, gen uint64) error {
	w := n.q.spareWaiter(ctx)
	n.q.mu.Lock()
	if !n.enqueueLocked(w, gen) {
		n.q.mu.Unlock()
		n.q.putWaiter(w)
		return nil
	}
	n.q.mu.Unlock()
	err := n.park(ctx, w)
	n.q.putWaiter(w)
	return err
}

// notifySpins is how many times a queued waiter yields the processor,
// looking whether a notification took it, before it parks: with two
// goroutines that take turns (a ping-pong, a producer and its consumer) the
// other one's NotifyOne is usually a few scheduling rounds away.
const notifySpins = 2

// park waits until a notification takes w, queued without a channel, off
// the list (nil), first spinning, then parked on a channel of its own; or
// until ctx ends: then it leaves the list and returns ctx.Err(), unless a
// notification took it first (nil). A notification that found its ctx ended
// took it off with wokeCancelled: ctx.Err(). On return w is off the list and
// no waker holds it.
func (n *Notify) park(ctx context.Context, w *waiter) (err error) {
	if n.q.spin(w, notifySpins) {
		return n.settled(ctx, w) // never parked: nothing to count
	}
	err = park(ctx, w)
	if err != nil && n.q.withdraw(w) {
		// Still queued: gone now, having taken nothing.
		n.leftLocked()
		n.q.mu.Unlock()
	} else {
		err = n.settled(ctx, w)
	}
	w.stats.end(w, err != nil)
	return err
}

// settled returns what the notification that took w off the list says.
func (n *Notify) settled(ctx context.Context, w *waiter) error {
	if w.status == wokeCancelled {
		return ctx.Err()
	}
	return nil
}

// enqueueLocked is the first half of a slow wait, under mu: it completes the
// wait without queuing if a NotifyWaiters came since generation gen or a
// permit is stored (taking it), and returns false; otherwise it appends w to
// the list, with waiting set, and returns true.
func (n *Notify) enqueueLocked(w *waiter, gen uint64) bool {
	for {
		s := n.state.Load()
		if s>>notifyGenShift != gen {
			// A NotifyWaiters since the Notified was created: done, and
			// a stored permit stays for someone else.
			return false
		}
		if s&notifyNotified != 0 {
			// A permit came while we took the lock: take it.
			if n.state.CompareAndSwap(s, s&^notifyNotified) {
				return false
			}
			continue
		}
		// Set waiting if it is not set yet. The CAS fails if a lock-free
		// NotifyOne stored a permit or a NotifyWaiters bumped the
		// generation while nobody waited: look again. With somebody
		// waiting, nothing but mu's holders change the word.
		if s&notifyWaiting != 0 || n.state.CompareAndSwap(s, s|notifyWaiting) {
			n.q.pushBack(w)
			return true
		}
	}
}

// leftLocked restores the invariant after a waiter left the list: if the
// list is now empty, waiting is cleared. While waiting is set no lock-free
// path changes the word, so a store does. mu must be held.
func (n *Notify) leftLocked() {
	if n.q.empty() {
		n.state.Store(n.state.Load() &^ notifyWaiting)
	}
}

// Notified returns a handle for one notification of n, registered now for
// [Notify.NotifyWaiters]: a NotifyWaiters call that starts after this one
// returns completes it, whether or not it is waiting by then. It joins the
// queue for [Notify.NotifyOne] and [Notify.NotifyLast] only when it waits or
// is enabled.
func (n *Notify) Notified() *Notified {
	return &Notified{n: n, gen: n.state.Load() >> notifyGenShift}
}

// A Notified is one pending notification of a [Notify], created by
// [Notify.Notified]: the Go form of tokio's Notified future.
//
// It is complete once it has taken a stored permit, has been chosen by
// NotifyOne or NotifyLast, or a NotifyWaiters call has started after its
// creation. Wait and Enable of a complete Notified return at once. It is
// used by one goroutine at a time: its methods must not be called
// concurrently.
//
// The zero Notified belongs to no Notify and must not be used; get one from
// [Notify.Notified]. A Notified must not be copied.
//
// In the terminology of the Go memory model, what completes a Notified (the
// NotifyOne or NotifyLast that chose it or stored the permit it took, or the
// NotifyWaiters) synchronizes before the Wait or Enable that reports it.
type Notified struct {
	_     noCopy
	n     *Notify
	gen   uint64 // n's generation when created
	phase uint8  // notifiedIdle, notifiedEnabled or notifiedDone
	w     waiter // joins n's list; its fields are guarded by n's mu while queued
}

// Phases of a Notified.
const (
	notifiedIdle    = iota // not on the list
	notifiedEnabled        // joined the list; may have been taken off by a notification it has not observed yet
	notifiedDone           // complete, and its owner knows it
)

// Enable joins the queue that NotifyOne and NotifyLast serve, without
// waiting, and reports whether w is already complete. It takes the stored
// permit if there is one (then it reports true). A later [Notified.Wait]
// keeps the place in the queue; an earlier NotifyOne or NotifyLast that chose
// w makes it, and Enable, report true. Once it has reported true, Wait
// returns nil at once and Cancel passes nothing on.
func (w *Notified) Enable() bool {
	switch w.phase {
	case notifiedDone:
		return true
	case notifiedEnabled:
		n := w.n
		n.q.mu.Lock()
		queued := w.w.queued
		n.q.mu.Unlock()
		if !queued {
			w.phase = notifiedDone
		}
		return !queued
	}
	if w.complete() {
		return true
	}
	// Enabled without a wait: no channel and no ctx, so no notification
	// skips it and no wake-up is sent to it (wakeList.add leaves a waiter
	// without a channel alone).
	w.w.ready, w.w.done, w.w.status = nil, nil, wokeGranted
	w.w.taken.Store(false)
	n := w.n
	n.q.mu.Lock()
	queued := n.enqueueLocked(&w.w, w.gen)
	n.q.mu.Unlock()
	if !queued {
		w.phase = notifiedDone
		return true
	}
	w.phase = notifiedEnabled
	return false
}

// complete is the fast path of Enable and Wait on an idle w: it reports
// whether a NotifyWaiters came since w was created or w took the stored
// permit, and then marks w done.
func (w *Notified) complete() bool {
	s := w.n.state.Load()
	if s>>notifyGenShift != w.gen ||
		s&notifyNotified != 0 && w.n.state.CompareAndSwap(s, s&^notifyNotified) {
		w.phase = notifiedDone
		return true
	}
	return false
}

// Wait waits until w is complete.
//
// If ctx is already done, Wait returns ctx.Err() and changes nothing: a
// stored permit stays stored, and an enabled w keeps its place and any
// notification it has been given. Otherwise it returns nil at once if w is
// complete or a permit is stored (which it takes); else it joins the queue
// (or keeps the place Enable took) and waits in FIFO order. If ctx is done
// first, it returns ctx.Err() and leaves the queue, as Cancel does; a w that
// was notified before its ctx ended returns nil. After an error, w may wait
// again, at the end of the queue; NotifyWaiters calls since its creation
// still complete it. A wait that parks allocates one channel.
func (w *Notified) Wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	switch w.phase {
	case notifiedDone:
		return nil
	case notifiedIdle:
		if w.complete() {
			return nil
		}
	}
	err := w.wait(ctx)
	if err != nil {
		w.phase = notifiedIdle
		return err
	}
	w.phase = notifiedDone
	return nil
}

// wait is the slow path of Wait: it waits for w.w on the list, joining it
// unless Enable did.
func (w *Notified) wait(ctx context.Context) error {
	n := w.n
	n.q.mu.Lock()
	if w.phase == notifiedEnabled {
		if !w.w.queued {
			// Enabled earlier and notified since.
			n.q.mu.Unlock()
			return nil
		}
	} else {
		w.w.status = wokeGranted
		w.w.taken.Store(false)
		if !n.enqueueLocked(&w.w, w.gen) {
			n.q.mu.Unlock()
			return nil
		}
	}
	// Under mu, so that a notification sees it: one whose ctx has ended is
	// skipped.
	w.w.done, w.w.stats = ctx.Done(), &n.q.stats
	n.q.mu.Unlock()
	err := n.park(ctx, &w.w)
	w.w.ready, w.w.done = nil, nil
	return err
}

// Cancel leaves the queue. If NotifyOne or NotifyLast chose w and w has not
// reported it yet (through Wait or Enable), the notification goes to the
// next waiter with the same strategy (the oldest for NotifyOne, the newest
// for NotifyLast), or back as the stored permit if nobody waits: it is not
// lost. A complete w that has reported it stays complete; any other w may
// wait again later, at the end of the queue.
func (w *Notified) Cancel() {
	if w.phase != notifiedEnabled {
		return
	}
	w.phase = notifiedIdle
	n := w.n
	var l wakeList
	n.q.mu.Lock()
	switch {
	case w.w.queued:
		n.q.remove(&w.w)
		n.leftLocked()
	case w.w.status == notifiedByOne || w.w.status == notifiedByLast:
		n.notifyLocked(&l, w.w.status)
	default:
		// NotifyWaiters: not passed on. w stays complete by it.
		w.phase = notifiedDone
	}
	n.q.mu.Unlock()
	l.wake()
}

// Stats returns a snapshot of the waiting on n: the Wait calls (and Waits of
// a Notified) that parked.
func (n *Notify) Stats() Stats { return n.q.stats.snapshot() }

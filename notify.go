package gate

import (
	"context"
	"sync"
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
// place.
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

	// q's mu guards the list, loneSeq, condW, the fields of every queued
	// waiter, and every change of state while anyone waits.
	q waitQueue

	// loneSeq counts the wake-ups of the lone waiter (see notifyLone): the
	// lone waiter parks on lone until it changes. Guarded by mu.
	loneSeq uint64

	// lone parks the lone waiter: a Notify.Wait whose ctx can never end
	// (its Done channel is nil) and that found nobody waiting. It is off
	// the list and touches no waiter struct, so the common case of one
	// goroutine waiting with context.Background touches two cache lines of
	// the Notify and allocates nothing. A sync.Cond belongs to no synctest
	// bubble and a goroutine in Cond.Wait is durably blocked, so this park
	// works in one bubble after another, like a channel made for the wait.
	// Its L is &q.mu, set under mu by the first goroutine that waits on it
	// (the zero Notify must work) and never written again: a waking
	// goroutine reads it without mu to relock mu.
	lone sync.Cond

	// cond parks condW, one queued waiter whose ctx can never end, which so
	// needs no channel either; it is taken by the first such waiter while
	// cond is free. Its L is set like lone's. Every other waiter parks on a
	// channel of its own, so a notification never wakes more than the
	// goroutine it chose.
	cond  sync.Cond
	condW *waiter
}

// State word of a Notify, after tokio's notify.rs.
//
// Bits (high to low):
//
//	63 ................... 3 | 2    | 1        | 0
//	NotifyWaiters generation | lone | notified | waiting
//
// waiting: the list is non-empty. notified: the permit is stored. lone: the
// lone waiter waits on n.lone, off the list; it is older than every waiter on
// the list (it parks only when nobody waits, and everyone after it joins the
// list). notified is never set together with waiting or lone: NotifyOne gives
// the permit to a waiter when there is one.
//
// The generation counts the calls of NotifyWaiters; a Notified records it
// when it is created, and one that finds it changed has been completed by
// such a call, without taking the stored permit.
//
// Who changes what:
//   - while nobody waits (waiting and lone clear), setting notified
//     (NotifyOne, NotifyLast), clearing it (a Wait that takes the permit)
//     and a generation change (NotifyWaiters) are lock-free CASes;
//   - waiting and lone are set and cleared under mu only, and while either
//     is set only holders of mu change the word (the lock-free paths step
//     aside), so a holder of mu may change it with a plain store. A waiter
//     about to wait sets waiting or lone with a CAS of the whole word, so it
//     sees a permit or a new generation that a lock-free CAS made first.
//
// Invariant (under mu): waiting ⇔ the list is non-empty; lone ⇔ a
// goroutine waits on n.lone and has not been taken.
const (
	notifyWaiting  = 1 << iota                  // the list is non-empty
	notifyNotified                              // the permit is stored
	notifyLone                                  // the lone waiter waits
	notifyGenShift = iota                       // shift of the generation
	notifyGenOne   = 1 << notifyGenShift        // one NotifyWaiters call
	notifyBusy     = notifyWaiting | notifyLone // somebody waits
)

// Values of waiter.status for a waiter of a Notify taken off the list by a
// notification: which kind it was, so that a Notified that is cancelled
// before it has observed a NotifyOne or NotifyLast can pass it on with the
// same strategy. A NotifyWaiters notification is not passed on.
const (
	notifiedByOne  = wokeOwner + iota // NotifyOne: next goes to the oldest waiter
	notifiedByLast                    // NotifyLast: next goes to the newest waiter
	notifiedByAll                     // NotifyWaiters
)

// NotifyOne wakes the goroutine that has waited longest. If none waits, it
// stores the permit, so that the next [Notify.Wait] (or [Notified.Enable])
// returns at once; at most one permit is stored.
//
// NotifyOne, NotifyLast and NotifyWaiters are not inlined (with Go 1.26 each
// costs 90, over the budget of 80, the call of the slow path alone 57), but
// with nobody waiting each is a load and a CAS.
func (n *Notify) NotifyOne() {
	// Fast path: nobody waits, store the permit. The CAS is made even when
	// the permit is already stored, so that what this call follows is
	// published to the Wait that takes the permit.
	if s := n.state.Load(); s&notifyBusy != 0 || !n.state.CompareAndSwap(s, s|notifyNotified) {
		n.notifySlow(notifiedByOne)
	}
}

// NotifyLast wakes the goroutine that started waiting last. If none waits, it
// stores the permit, as [Notify.NotifyOne] does.
func (n *Notify) NotifyLast() {
	if s := n.state.Load(); s&notifyBusy != 0 || !n.state.CompareAndSwap(s, s|notifyNotified) {
		n.notifySlow(notifiedByLast)
	}
}

// notifySlow is the slow path of NotifyOne and NotifyLast: it retries the CAS
// while nobody waits and otherwise wakes a waiter under mu.
func (n *Notify) notifySlow(kind uint8) {
	for {
		s := n.state.Load()
		if s&notifyBusy != 0 {
			break
		}
		// Lost a race with a Wait taking the permit or a NotifyWaiters.
		if n.state.CompareAndSwap(s, s|notifyNotified) {
			return
		}
	}
	n.q.mu.Lock()
	wk := n.notifyLocked(kind)
	n.q.mu.Unlock()
	wk.wake(n)
}

// A notifyWake says how to wake the waiters a notification took, once mu is
// unlocked: close ready (a chain of them for NotifyWaiters, through next),
// signal cond, signal lone. It is empty for a waiter that joined the list
// through Enable and has not parked yet: its Wait will find it off the list.
// No waiter is touched once mu is unlocked but to close its channel, so that
// a woken goroutine may reuse its waiter as soon as it sees its status.
type notifyWake struct {
	ready      chan struct{}
	chain      *waiter
	cond, lone bool
}

func (wk notifyWake) wake(n *Notify) {
	if wk.ready != nil {
		close(wk.ready)
	}
	wakeAll(wk.chain)
	// Each of cond and lone parks at most one goroutine, and a new one may
	// park only after the last one was taken: the goroutines that took
	// tickets in Cond.Wait were taken in ticket order, one Signal each, so
	// Signal wakes the oldest ticket not yet woken, which belongs to the
	// waiter taken or to one taken before it (whose own Signal then wakes
	// this one). Either way every taken waiter is woken once.
	if wk.cond {
		n.cond.Signal()
	}
	if wk.lone {
		n.lone.Signal()
	}
}

// notifyLocked delivers one notification of kind notifiedByOne or
// notifiedByLast: to the oldest or newest waiter, or, with nobody waiting, as
// the stored permit. mu must be held.
func (n *Notify) notifyLocked(kind uint8) notifyWake {
	for {
		s := n.state.Load()
		if s&notifyBusy == 0 {
			// Nobody waits (and, mu being held, nobody can start to):
			// store the permit. Lock-free CASes (a Wait taking the permit,
			// a NotifyOne, a NotifyWaiters) may race with ours: retry.
			if n.state.CompareAndSwap(s, s|notifyNotified) {
				return notifyWake{}
			}
			continue
		}
		if s&notifyLone != 0 && (kind == notifiedByOne || s&notifyWaiting == 0) {
			// The lone waiter is the oldest, and the newest when the
			// list is empty.
			n.state.Store(s &^ notifyLone)
			n.loneSeq++
			return notifyWake{lone: true}
		}
		var w *waiter
		if kind == notifiedByLast {
			w = n.q.popBack()
		} else {
			w = n.q.popFront()
		}
		if n.q.empty() {
			n.state.Store(s &^ notifyWaiting)
		}
		return n.takeLocked(w, kind)
	}
}

// takeLocked records that w, just taken off the list, was notified with kind
// and returns how to wake it. mu must be held.
func (n *Notify) takeLocked(w *waiter, kind uint8) notifyWake {
	w.status = kind
	if w == n.condW {
		n.condW = nil
		return notifyWake{cond: true}
	}
	return notifyWake{ready: w.ready}
}

// NotifyWaiters wakes every goroutine that waits and completes every
// [Notified] created before the call, whether it has been waited on or
// enabled yet or not: their Wait returns nil. It stores no permit and leaves
// a stored one in place. A Notified created after the call, or a Wait that
// starts after it, is not affected.
func (n *Notify) NotifyWaiters() {
	// Fast path: nobody waits, so only the generation changes; a stored
	// permit stays. A waiter about to wait fails its CAS and sees the new
	// generation.
	if s := n.state.Load(); s&notifyBusy != 0 || !n.state.CompareAndSwap(s, s+notifyGenOne) {
		n.notifyWaitersSlow()
	}
}

// notifyWaitersSlow is the slow path of NotifyWaiters: it bumps the
// generation and takes every waiter under mu, then wakes them.
func (n *Notify) notifyWaitersSlow() {
	n.q.mu.Lock()
	var s uint64
	for {
		s = n.state.Load()
		if s&notifyBusy != 0 {
			break
		}
		// Nobody waits any more; lock-free CASes may race.
		if n.state.CompareAndSwap(s, s+notifyGenOne) {
			n.q.mu.Unlock()
			return
		}
	}
	// The new generation, with nobody waiting, in one store: under mu
	// nothing else changes the word while anyone waits.
	n.state.Store(s&^notifyBusy + notifyGenOne)
	var wk notifyWake
	if s&notifyLone != 0 {
		n.loneSeq++
		wk.lone = true
	}
	// Take every waiter off the list, chaining those that park on a
	// channel through next: the others (the cond waiter, and enabled
	// Notifieds that have not parked) must not be touched once mu is
	// unlocked.
	var last *waiter
	for w := n.q.popFront(); w != nil; w = n.q.popFront() {
		t := n.takeLocked(w, notifiedByAll)
		wk.cond = wk.cond || t.cond
		if t.ready == nil {
			continue
		}
		if last == nil {
			wk.chain = w
		} else {
			last.next = w
		}
		last = w
	}
	n.q.mu.Unlock()
	wk.wake(n)
}

// Wait waits for a notification: it is n.Notified().Wait(ctx), without the
// allocation of a Notified.
//
// If ctx is already done, Wait returns ctx.Err() at once and takes nothing,
// even if a permit is stored. Otherwise it takes the stored permit and returns
// nil if there is one, or waits in FIFO order for [Notify.NotifyOne],
// [Notify.NotifyLast] or [Notify.NotifyWaiters]. If ctx is done first, it
// returns ctx.Err() and leaves the queue; a waiter that was notified before
// it could leave returns nil (the notification is not lost).
func (n *Notify) Wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// Fast path: take the stored permit.
	s := n.state.Load()
	if s&notifyNotified != 0 && n.state.CompareAndSwap(s, s&^notifyNotified) {
		return nil
	}
	return n.waitSlow(ctx, s)
}

// waitSlow is the slow path of Notify.Wait, outlined so that the fast path
// stays short; s is the state word Wait loaded, whose generation is that of
// the Notified this Wait stands for. With a ctx that never ends and nobody
// waiting it becomes the lone waiter; otherwise it waits on the list with a
// spare waiter struct of the queue, so that a wait allocates at most its
// channel.
func (n *Notify) waitSlow(ctx context.Context, s uint64) error {
	gen := s >> notifyGenShift
	if ctx.Done() == nil {
		n.q.mu.Lock()
		for {
			s := n.state.Load()
			if s>>notifyGenShift != gen {
				n.q.mu.Unlock()
				return nil // a NotifyWaiters since the call
			}
			if s&notifyNotified != 0 {
				if n.state.CompareAndSwap(s, s&^notifyNotified) {
					n.q.mu.Unlock()
					return nil // a permit came while we took the lock
				}
				continue
			}
			if s&notifyBusy != 0 {
				break // others wait: join the list behind them
			}
			// Nobody waits: become the lone waiter. The CAS fails if a
			// lock-free NotifyOne or NotifyWaiters came first: look
			// again.
			if n.state.CompareAndSwap(s, s|notifyLone) {
				seq := n.loneSeq
				if n.lone.L == nil {
					n.lone.L = &n.q.mu
				}
				// The waker bumps loneSeq under mu, then signals;
				// Cond.Wait takes its ticket before it unlocks mu, so
				// the signal cannot be lost.
				for n.loneSeq == seq {
					n.lone.Wait()
				}
				n.q.mu.Unlock()
				return nil
			}
		}
		n.q.mu.Unlock()
	}
	w := n.q.spareWaiter(bg)
	err := n.wait(ctx, w, gen, false)
	// w is off the list and its wake-up, if any, has been received.
	n.q.putWaiter(w)
	return err
}

// wait is the common slow path of a wait on the list, for Notify.Wait and
// Notified.Wait: wait for a notification for waiter w, which stands for a
// Notified created at generation gen and is on the list already if queued
// (Notified.Enable).
//
// It returns nil once w has been notified, or completed without joining the
// list (a new generation, or the stored permit, which it took), or ctx.Err()
// once ctx is done with w off the list and nothing taken. ctx must not be
// done at the call. On return w is off the list and no waker holds it; a
// notification that chose it is in w.status.
func (n *Notify) wait(ctx context.Context, w *waiter, gen uint64, queued bool) error {
	done := ctx.Done()
	var ready chan struct{}
	if done != nil {
		// The channel is made before taking mu; it is wasted only if the
		// wait completes at once, which the fast path mostly caught.
		ready = make(chan struct{})
	}
	n.q.mu.Lock()
	if !queued {
		if !n.enqueueLocked(w, gen) {
			n.q.mu.Unlock()
			return nil
		}
	} else if !w.queued {
		// Enabled earlier and notified since.
		n.q.mu.Unlock()
		return nil
	}
	if done == nil {
		if n.condW == nil {
			// The cond is free: park on it, allocating nothing. The
			// waker clears condW and sets w.status under mu, then
			// signals; Cond.Wait takes its ticket before it unlocks mu.
			n.condW = w
			if n.cond.L == nil {
				n.cond.L = &n.q.mu
			}
			for w.queued {
				n.cond.Wait()
			}
			n.q.mu.Unlock()
			return nil
		}
		// Another goroutine parks on the cond: use a channel, made
		// without mu held. w stays on the list meanwhile, like an
		// enabled Notified; a notification may take it.
		n.q.mu.Unlock()
		ready = make(chan struct{})
		n.q.mu.Lock()
		if !w.queued {
			n.q.mu.Unlock()
			return nil
		}
	}
	w.ready = ready
	n.q.mu.Unlock()

	err := park(ctx, w)
	if err != nil {
		if n.q.withdraw(w) {
			// Still queued: gone now, having taken nothing.
			n.leftLocked()
			n.q.mu.Unlock()
			w.ready = nil
			return err
		}
		// A notification took w before it could leave: it came first,
		// and the wait succeeds (package doc: a waiter granted before it
		// could withdraw returns success).
	}
	w.ready = nil
	return nil
}

// enqueueLocked is the first half of a slow wait on the list, under mu: it
// completes the wait without queuing if a NotifyWaiters came since
// generation gen or a permit is stored (taking it), and returns false;
// otherwise it appends w to the list, with waiting set, and returns true.
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

// leftLocked restores the invariant after a waiter left the list on its own
// (ctx ended, or Cancel): if the list is now empty, waiting is cleared. mu
// must be held.
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
	n := w.n
	s := n.state.Load()
	if s>>notifyGenShift != w.gen ||
		s&notifyNotified != 0 && n.state.CompareAndSwap(s, s&^notifyNotified) {
		w.phase = notifiedDone
		return true
	}
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

// Wait waits until w is complete.
//
// If ctx is already done, Wait returns ctx.Err() and changes nothing: a
// stored permit stays stored, and an enabled w keeps its place and any
// notification it has been given. Otherwise it returns nil at once if w is
// complete or a permit is stored (which it takes); else it joins the queue
// (or keeps the place Enable took) and waits in FIFO order. If ctx is done
// first, it returns ctx.Err() and leaves the queue, as Cancel does; a w that
// was notified before it could leave returns nil. After an error, w may wait
// again, at the end of the queue; NotifyWaiters calls since its creation
// still complete it.
func (w *Notified) Wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	switch w.phase {
	case notifiedDone:
		return nil
	case notifiedIdle:
		// Fast path: a NotifyWaiters since creation, or a stored permit.
		s := w.n.state.Load()
		if s>>notifyGenShift != w.gen ||
			s&notifyNotified != 0 && w.n.state.CompareAndSwap(s, s&^notifyNotified) {
			w.phase = notifiedDone
			return nil
		}
	}
	err := w.n.wait(ctx, &w.w, w.gen, w.phase == notifiedEnabled)
	if err != nil {
		w.phase = notifiedIdle
		return err
	}
	w.phase = notifiedDone
	return nil
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
	n.q.mu.Lock()
	if w.w.queued {
		n.q.remove(&w.w)
		n.leftLocked()
		n.q.mu.Unlock()
		return
	}
	switch w.w.status {
	case notifiedByOne, notifiedByLast:
		wk := n.notifyLocked(w.w.status)
		n.q.mu.Unlock()
		wk.wake(n)
	default:
		// NotifyWaiters: not passed on. w stays complete by it.
		n.q.mu.Unlock()
		w.phase = notifiedDone
	}
}

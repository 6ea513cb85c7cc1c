package gate

import (
	"context"
	"iter"
	"sync/atomic"
)

// A watch channel (after tokio's sync::watch, tokio/src/sync/watch.rs) holds
// one value and a version. Senders replace or modify the value; receivers
// read the newest one whenever they like and can wait for the next version.
//
// # Storage: an immutable box behind one atomic pointer
//
// The value lives in a box, a struct that holds the value and the state word
// (version and flags) that go with it and is never written once published.
// A send makes a new box and publishes it with one atomic pointer write, so
// that a read (Borrow, HasChanged, the first look of Changed) is one atomic
// load of that pointer and writes no shared memory: readers of a
// configuration value on every core do not bounce one cache line between
// them. The value and its version are read from the same box, so a reader
// never sees a version newer than its value. This costs one allocation per
// send, as the atomic.Pointer a Go user would write does; tokio keeps the
// value under a RwLock instead, so a receiver that holds a borrow blocks
// every sender.
//
// # Senders: a CAS for a plain send, the lock for the others
//
// Send and SendReplace need no lock: they read the current box and replace
// it with a compare-and-swap, which fails (and they look again) if another
// send got in first. SendModify, SendIfModified and the last sender's Close
// must read the value, work on it and publish the result with no send in
// between, so they take the senders' lock, a sem with one permit (FIFO,
// parked on the core's queue), and then lock the box: they replace the
// current box with a copy that has the locked flag, so that every lock-free
// send that looked at the previous box fails its CAS and every later one
// sees the flag and queues for the lock instead. The holder publishes its
// box with the flag still set if a sender waits for the lock (the flag goes
// with the lock to the next holder, so no lock-free send barges ahead of a
// parked one), clear otherwise. A simpler design, where the plain sends take
// the lock as well, costs three atomic read-modify-writes per send instead of
// one; one where SendModify only takes the lock would let a lock-free send
// that looked before it publish in the middle of f, and f's result would
// then drop that send.
//
// # Waiting
//
// Changed and WaitFor wait on the channel's queue with the core's
// waitQueue.waitFor, their receiver as the owner (so that its Close ends
// them); Ready arms the receiver's readiness on the same queue. A send that
// notifies (bumps the version), and the last sender's Close, publish their
// box and then call q.notify, which wakes every waiter; a waiter that finds
// nothing new for it (WaitFor with f false) waits again. WaitClosed waits on
// the core's handles.

// Bits of a box's state word (high to low):
//
//	63 ......... 2 | 1      | 0
//	version        | locked | closed
//
// The version counts the sends that notified receivers; a silent
// modification (SendIfModified whose f returns false or panics) publishes a
// box with the same version. locked: the box was published by, or for, a
// holder of the senders' lock, and no lock-free send may replace it. closed:
// every sender is closed; it is set by the last sender's Close and never
// cleared, and a closed box is the last box of the channel.
const (
	watchClosed       = 1 << iota // every sender is closed
	watchLocked                   // a holder of the senders' lock owns the box
	watchVersionShift = iota      // shift of the version field
	watchVersionStep  = 1 << watchVersionShift
)

// watchVersion returns the version field of a box's state word.
func watchVersion(s uint64) uint64 { return s >> watchVersionShift }

// A watchBox is one published value of a watch channel. It is not written
// after it has been published.
type watchBox[T any] struct {
	v T
	s uint64 // see the bit map above
}

// watch is the state a watch channel's handles share.
type watch[T any] struct {
	// p is the current box. Every read loads it, every send replaces it;
	// the padding keeps the words that senders, parked receivers and
	// Clone/Close write (the lock's state, the queues' counts, the handle
	// counts) off the cache line that readers share.
	p atomic.Pointer[watchBox[T]]
	_ [56]byte

	tx sem       // the senders' lock: one permit (bias 1, so the zero sem is unlocked)
	q  waitQueue // receivers waiting for a new version or the close: Changed, WaitFor, armed Ready
	hs handles   // open senders and receivers; senders in WaitClosed
}

// Watch returns the sender and the receiver of a new watch channel that holds
// initial. The receiver has seen initial: its first Changed waits for a
// send.
func Watch[T any](initial T) (*WatchSender[T], *WatchReceiver[T]) {
	c := &watch[T]{}
	c.p.Store(&watchBox[T]{v: initial})
	c.hs.add(senders)
	c.hs.add(receivers)
	return &WatchSender[T]{c: c}, newWatchReceiver(c, 0, true)
}

// casSend replaces the current box with nb, bumping the version, unless the
// box is locked or closed. It returns the box it replaced, or nil (and then
// the caller goes to the senders' lock). A failed CAS lost to another send:
// look again, without a lock.
func (c *watch[T]) casSend(nb *watchBox[T]) *watchBox[T] {
	for {
		b := c.p.Load()
		if b.s&(watchLocked|watchClosed) != 0 {
			return nil
		}
		nb.s = b.s + watchVersionStep
		if c.p.CompareAndSwap(b, nb) {
			return b
		}
	}
}

// lock takes the senders' lock, waiting FIFO behind the senders that wait
// for it, and returns the current box, which no send replaces until unlock:
// it is locked (taken over from the previous holder, or replaced by a locked
// copy here) or closed. A closed box means that every sender, the caller's
// included, was closed: the caller unlocks without publishing.
func (c *watch[T]) lock() *watchBox[T] {
	if !c.tx.acquireFast(1, 1) {
		_ = c.tx.acquireSlow(context.Background(), 1, 1) // no ctx, no close: cannot fail
	}
	for {
		b := c.p.Load()
		if b.s&(watchLocked|watchClosed) != 0 {
			return b
		}
		// Fence out the lock-free sends: those that looked at b fail
		// their CAS, later ones see the flag. Losing to one of them: look
		// again.
		lb := &watchBox[T]{v: b.v, s: b.s | watchLocked}
		if c.p.CompareAndSwap(b, lb) {
			return lb
		}
	}
}

// unlock publishes nb, whose state word the caller has set with the locked
// flag clear (nil: publish nothing), and releases the senders' lock. While a
// sender waits for the lock, nb keeps the flag: the release hands the lock
// to that sender, which then owns the box. A sender that queues after the
// look finds the flag clear when it gets the lock and locks the box itself.
// A holder that publishes nothing (its handle was closed while it waited)
// leaves a locked box behind: lock-free sends then take the lock, and the
// next holder owns that box as if it had been handed over.
func (c *watch[T]) unlock(nb *watchBox[T]) {
	if nb != nil {
		if c.tx.q.waiting.Load() != 0 {
			nb.s |= watchLocked
		}
		// A plain store: while the box is locked, no other send writes p.
		c.p.Store(nb)
	}
	c.tx.release(1, 1, 1, "gate: watch senders' lock released twice")
}

// sendLocked is a send that found the box locked or closed: it publishes nb
// (bumping the version) under the senders' lock and returns the box it
// replaced, or nil, storing nothing, if the channel is closed or h was closed
// while the send waited for the lock (the Close came first). The caller
// wakes the receivers.
func (c *watch[T]) sendLocked(h *handle, nb *watchBox[T]) *watchBox[T] {
	b := c.lock()
	if b.s&watchClosed != 0 || h.closed.Load() {
		c.unlock(nil)
		return nil
	}
	nb.s = b.s&^watchLocked + watchVersionStep
	c.unlock(nb)
	return b
}

// closeSenders publishes the closed flag, after any send in progress, and
// wakes every waiting receiver. It is idempotent: a Clone of a closing
// sender may count the last sender out a second time.
func (c *watch[T]) closeSenders() {
	b := c.lock()
	if b.s&watchClosed != 0 {
		c.unlock(nil)
		return
	}
	c.unlock(&watchBox[T]{v: b.v, s: b.s&^watchLocked | watchClosed})
	c.notify()
}

// notify wakes the receivers waiting for the version just published, or for
// the close: every Changed and WaitFor (which look again and may wait on)
// and every armed Ready whose receiver has not seen the current version. It
// is one load when nobody waits. The caller has published its box first
// (see waitQueue.waiting for why no wake-up is lost).
//
// It is q.notify with one difference: a Ready armed for the current
// version stays armed (notifyFresh: its token waiter carries the version its
// receiver had seen when it armed, stamped under q.mu by arm). Without it a send that
// was slow to call notify after its CAS would fire a Ready that its receiver
// re-armed after reading that very version: a receive from Ready followed by
// HasChanged reporting false, nil (invented).
func (c *watch[T]) notify() {
	c.q.notifyFresh(func(stamp int64) bool {
		st := c.p.Load().s
		return st&watchClosed == 0 && uint64(stamp) == watchVersion(st)
	})
}

// A WatchSender is the sending half of a watch channel, made by [Watch] and
// [WatchSender.Clone]. Every send replaces (or modifies) the one value the
// channel holds; receivers see the newest value, not every value.
//
// A send never waits for receivers, and a receiver never waits for a send.
// Send and SendReplace do not wait for each other either; SendModify and
// SendIfModified are serialized with every other send by a fair (FIFO) lock
// that they hold while f runs.
//
// A WatchSender is safe for use by any number of goroutines at once. The
// zero value is not usable: make one with [Watch]. A WatchSender must not be
// copied after first use.
//
// In the terminology of the Go memory model, a send synchronizes before
// every Borrow, BorrowAndUpdate or WaitFor that returns the value it stored
// or a later one, and before every Changed or HasChanged that reports its
// version (or a later one) as new; the last sender's Close synchronizes
// before every call that reports the channel closed.
type WatchSender[T any] struct {
	_ noCopy
	c *watch[T]
	h handle // this handle's Close
}

// Send stores v as the new value and wakes every waiting receiver, also when
// no receiver is subscribed now: a later Subscribe sees v. After this
// sender's Close it returns ErrClosed and stores nothing. It never waits for
// a receiver, nor for another Send or SendReplace.
func (s *WatchSender[T]) Send(v T) error {
	if s.h.closed.Load() {
		return ErrClosed
	}
	c := s.c
	nb := &watchBox[T]{v: v}
	if c.casSend(nb) == nil && c.sendLocked(&s.h, nb) == nil {
		return ErrClosed
	}
	c.notify()
	return nil
}

// SendReplace stores v as the new value, wakes every waiting receiver and
// returns the value it replaced. It panics if this sender is closed, as a
// send on a closed Go channel does: the value would be lost.
func (s *WatchSender[T]) SendReplace(v T) T {
	if !s.h.closed.Load() {
		c := s.c
		nb := &watchBox[T]{v: v}
		b := c.casSend(nb)
		if b == nil {
			b = c.sendLocked(&s.h, nb)
		}
		if b != nil {
			c.notify()
			return b.v
		}
	}
	panic("gate: SendReplace on a closed WatchSender")
}

// SendModify calls f with a pointer to a copy of the current value, which
// becomes the new value, and wakes every waiting receiver, whether or not f
// changed it. It panics if this sender is closed. See SendIfModified for
// what f may do and what a panic in f leaves behind.
func (s *WatchSender[T]) SendModify(f func(*T)) {
	s.sendIfModified("gate: SendModify on a closed WatchSender", func(v *T) bool {
		f(v)
		return true
	})
}

// SendIfModified calls f with a pointer to a copy of the current value,
// which becomes the new value, and reports what f returned. Receivers are
// woken (the version is bumped) only if f returns true; if it returns false
// the new value is a silent modification: Borrow returns it, but no receiver
// sees a change. It panics if this sender is closed, or was closed while it
// waited for the senders' lock.
//
// f runs while this sender holds the senders' lock: other sends wait for it,
// receivers do not (they read the previous value until f returns). f must
// not send on this channel nor close its last sender. If f panics, what it
// changed so far becomes the value, as a silent modification; no receiver is
// woken, the lock is released and the panic goes on to the caller: the
// channel stays usable.
func (s *WatchSender[T]) SendIfModified(f func(*T) bool) bool {
	return s.sendIfModified("gate: SendIfModified on a closed WatchSender", f)
}

func (s *WatchSender[T]) sendIfModified(msg string, f func(*T) bool) bool {
	if s.h.closed.Load() {
		panic(msg)
	}
	c := s.c
	b := c.lock()
	if b.s&watchClosed != 0 || s.h.closed.Load() {
		c.unlock(nil)
		panic(msg)
	}
	nb := &watchBox[T]{v: b.v, s: b.s &^ watchLocked}
	returned := false
	defer func() {
		if !returned {
			// f panicked (or called runtime.Goexit): publish what it
			// did, silently, and release the lock; the panic goes on.
			c.unlock(nb)
		}
	}()
	modified := f(&nb.v)
	returned = true
	if modified {
		nb.s += watchVersionStep
	}
	c.unlock(nb)
	if modified {
		c.notify()
	}
	return modified
}

// Borrow returns a copy of the current value, also after this sender's
// Close. It is one atomic load and never waits.
func (s *WatchSender[T]) Borrow() T { return s.c.p.Load().v }

// Subscribe returns a new receiver that has seen the current value. It
// reopens a channel whose receivers were all closed: IsClosed reports false
// again and WaitClosed waits for the new receiver. On a closed sender it
// returns a closed receiver.
func (s *WatchSender[T]) Subscribe() *WatchReceiver[T] {
	c := s.c
	open := !s.h.closed.Load()
	if open {
		c.hs.add(receivers)
	}
	return newWatchReceiver(c, watchVersion(c.p.Load().s), open)
}

// ReceiverCount returns the number of receivers not yet closed, also on a
// closed sender.
func (s *WatchSender[T]) ReceiverCount() int { return int(s.c.hs.open[receivers].Load()) }

// Clone returns a new sender of the same channel. The channel is closed for
// receivers once every sender, clones included, is closed. The clone of a
// closed sender is closed.
func (s *WatchSender[T]) Clone() *WatchSender[T] {
	c := s.c
	n := &WatchSender[T]{c: c}
	if s.h.closed.Load() {
		n.h.closed.Store(true)
		return n
	}
	// Count the clone in, then look at s's flag again: a Close of s that
	// the look does not see counts s out after the clone is in, so the
	// senders never look gone while the clone is open. One that it sees
	// came first: the clone is closed, counted out again.
	c.hs.add(senders)
	if s.h.closed.Load() {
		n.h.closed.Store(true)
		if c.hs.done(senders) {
			c.closeSenders() // s's own Close did it already, or is doing it
		}
	}
	return n
}

// Close closes this sender and ends its WaitClosed in flight with ErrClosed;
// later sends on it fail (Send) or panic (the others). Once every sender is
// closed, receivers see the channel closed: waiting ones wake up, Changed
// returns ErrClosed once the last value has been seen, HasChanged at once,
// and the value stays readable. The last sender's Close waits for a
// SendModify or SendIfModified in progress to finish. A second Close does
// nothing.
func (s *WatchSender[T]) Close() {
	if !s.h.close() {
		return
	}
	c := s.c
	c.hs.q.closeWaiters(&s.h)
	if c.hs.done(senders) {
		c.closeSenders()
	}
}

// IsClosed reports whether this sender is closed or no receiver is left. A
// later Subscribe opens the channel again.
func (s *WatchSender[T]) IsClosed() bool { return s.c.hs.isClosed(&s.h, receivers) }

// WaitClosed waits until no receiver is left and returns nil. It returns
// ctx.Err() if ctx is done first (or already when it is called), and
// ErrClosed if this sender is closed, before the call or while it waits. A
// receiver subscribed after the last one closed does not undo a WaitClosed
// that has returned.
func (s *WatchSender[T]) WaitClosed(ctx context.Context) error {
	hs := &s.c.hs
	for {
		// The last receiver's Close wakes the waiters after its count
		// reached zero; a Subscribe in between may have opened the
		// channel again before this call queued. So a wake-up is not a
		// close: only a look that saw no receiver is (tokio's
		// Sender::closed loops in the same way).
		saw := false
		err := hs.q.waitFor(ctx, &s.h, func() bool {
			saw = hs.gone(receivers)
			return saw
		})
		if err != nil || saw {
			return err
		}
	}
}

// A WatchReceiver is a receiving half of a watch channel, made by [Watch],
// [WatchSender.Subscribe] and [WatchReceiver.Clone]. It reads the channel's
// value at any time (Borrow) and remembers the version it has seen, so that
// it can wait for a newer one (Changed, WaitFor, Changes, Ready).
//
// A receiver is used by one goroutine at a time, except Close and IsClosed,
// which any goroutine may call at any time; Clone gives another goroutine a
// receiver of its own. Its zero value is not usable: make one with [Watch].
// A WatchReceiver must not be copied after first use.
//
// In the terminology of the Go memory model, a send synchronizes before
// every call of a receiver that returns the value it stored, or a later one,
// or that reports its version as new.
type WatchReceiver[T any] struct {
	_    noCopy
	c    *watch[T]
	h    handle    // this handle's Close, which any goroutine may call
	seen uint64    // the version this receiver has seen; its own goroutine's only
	rd   readiness // Ready's channel and its place on c.q
	// stats counts this receiver's Changed and WaitFor waits (h.stats
	// points here).
	stats waitStats
}

// newWatchReceiver returns a receiver of c that has seen version seen,
// closed unless open (the clone of a closed handle).
func newWatchReceiver[T any](c *watch[T], seen uint64, open bool) *WatchReceiver[T] {
	r := &WatchReceiver[T]{c: c, seen: seen}
	r.h.closed.Store(!open)
	r.rd.w.owner = &r.h // Close sends the armed Ready its token (closeWaiters)
	r.h.stats = &r.stats
	return r
}

// Borrow returns a copy of the current value, also after this receiver's
// Close. It does not mark the value seen; it is one atomic load and never
// waits.
func (r *WatchReceiver[T]) Borrow() T { return r.c.p.Load().v }

// BorrowAndUpdate returns a copy of the current value and marks its version
// seen. After this receiver's Close it still returns the value but marks
// nothing.
func (r *WatchReceiver[T]) BorrowAndUpdate() T {
	b := r.c.p.Load()
	if !r.h.closed.Load() {
		r.seen = watchVersion(b.s)
	}
	return b.v
}

// HasChanged reports whether the channel holds a version this receiver has
// not seen. Once every sender is closed it returns false, ErrClosed, even
// if a version is unseen (Changed still returns it); so does a closed
// receiver. It marks nothing and never waits.
func (r *WatchReceiver[T]) HasChanged() (bool, error) {
	s := r.c.p.Load().s
	if r.h.closed.Load() || s&watchClosed != 0 {
		return false, ErrClosed
	}
	return watchVersion(s) != r.seen, nil
}

// news reports whether HasChanged has something to report other than
// "nothing yet": an unseen version, every sender closed, or this receiver
// closed. It is the condition that Changed, WaitFor and Ready wait for.
func (r *WatchReceiver[T]) news() bool {
	s := r.c.p.Load().s
	return watchVersion(s) != r.seen || s&watchClosed != 0 || r.h.closed.Load()
}

// Changed waits for a version this receiver has not seen and marks it seen.
// If one is there already it returns nil at once, even when every sender is
// closed; otherwise it waits for a send that notifies (not a silent
// modification). It returns ErrClosed once every sender is closed and the
// last version has been seen, and on a closed receiver (also one whose Close
// another goroutine calls while it waits). If ctx is done first (or already
// when Changed is called) it returns ctx.Err() and marks nothing.
func (r *WatchReceiver[T]) Changed(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if r.h.closed.Load() {
		return ErrClosed
	}
	if over, err := r.see(r.c.p.Load().s); over {
		return err
	}
	return r.changedSlow(ctx)
}

// see is Changed's test of the state word s: a version this receiver has not
// seen is marked seen and ends the call with nil; every sender closed ends it
// with ErrClosed; else over is false and the call waits. It is small enough
// to be inlined into Changed and changedSlow.
func (r *WatchReceiver[T]) see(s uint64) (over bool, err error) {
	if watchVersion(s) != r.seen {
		r.seen = watchVersion(s)
		return true, nil
	}
	if s&watchClosed != 0 {
		return true, ErrClosed
	}
	return false, nil
}

// changedSlow is Changed once it must wait.
func (r *WatchReceiver[T]) changedSlow(ctx context.Context) error {
	for {
		if err := r.c.q.waitFor(ctx, &r.h, r.news); err != nil {
			return err
		}
		if over, err := r.see(r.c.p.Load().s); over {
			return err
		}
		// Our own Close came (waitFor reports it next time round), or a
		// wake-up for a version we had seen already: wait again.
	}
}

// MarkChanged makes this receiver treat the current version as unseen:
// HasChanged reports true and Changed returns at once, whatever is sent. On
// a closed receiver it does nothing.
func (r *WatchReceiver[T]) MarkChanged() {
	if !r.h.closed.Load() {
		r.seen-- // any other version would do; wraps harmlessly
	}
}

// MarkUnchanged marks the current version seen without reading the value.
// On a closed receiver it does nothing.
func (r *WatchReceiver[T]) MarkUnchanged() {
	if !r.h.closed.Load() {
		r.seen = watchVersion(r.c.p.Load().s)
	}
}

// WaitFor waits until f reports true for the channel's value and returns
// that value, marked seen. f is called with the current value first, even a
// seen one, and then with each new value this receiver sees; values sent in
// quick succession may be skipped. Each value f is called with is marked
// seen. WaitFor returns ErrClosed if f reports false for the last value once
// every sender is closed, and on a closed receiver (also one whose Close
// another goroutine calls while it waits); ctx.Err() if ctx is done first (or
// already when it is called). A panic in f goes on to the caller and leaves
// the receiver usable.
func (r *WatchReceiver[T]) WaitFor(ctx context.Context, f func(T) bool) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	if r.h.closed.Load() {
		return zero, ErrClosed
	}
	for {
		b := r.c.p.Load()
		r.seen = watchVersion(b.s)
		if f(b.v) {
			return b.v, nil
		}
		if b.s&watchClosed != 0 {
			return zero, ErrClosed // b was the last box
		}
		if err := r.c.q.waitFor(ctx, &r.h, r.news); err != nil {
			return zero, err
		}
	}
}

// Clone returns a new receiver of the same channel that has seen what this
// one has. The clone of a closed receiver is closed.
func (r *WatchReceiver[T]) Clone() *WatchReceiver[T] {
	c := r.c
	open := !r.h.closed.Load()
	if open {
		// Counted in, then r's flag again, as in WatchSender.Clone: a
		// Close of r from another goroutine never makes the receivers
		// look gone while the clone is open.
		c.hs.add(receivers)
		if open = !r.h.closed.Load(); !open {
			c.hs.done(receivers)
		}
	}
	return newWatchReceiver(c, r.seen, open)
}

// Close closes this receiver: a Changed or WaitFor in flight returns
// ErrClosed, Ready becomes receivable, and later calls report the receiver
// closed (Borrow still answers). Any goroutine may call it, also while the
// receiver's own goroutine waits. Once every receiver is closed, IsClosed of
// the senders reports true and WaitClosed returns, until a sender
// Subscribes. A second Close does nothing.
func (r *WatchReceiver[T]) Close() {
	if !r.h.close() {
		return
	}
	c := r.c
	c.q.closeWaiters(&r.h) // its Changed or WaitFor, and its armed Ready
	c.hs.done(receivers)
}

// IsClosed reports whether this receiver is closed or every sender is.
func (r *WatchReceiver[T]) IsClosed() bool {
	// The box's closed flag rather than the count of senders: it is set
	// once the last Close has published it, when HasChanged and Changed see
	// it too.
	return r.h.closed.Load() || r.c.p.Load().s&watchClosed != 0
}

// Changes returns an iterator that waits with Changed and then yields
// BorrowAndUpdate, again and again, until the channel is closed and its last
// value seen, the receiver is closed, or ctx is done (check ctx.Err() after
// the loop). It does not yield the value current when it starts unless that
// is unseen.
func (r *WatchReceiver[T]) Changes(ctx context.Context) iter.Seq[T] {
	return func(yield func(T) bool) {
		for r.Changed(ctx) == nil {
			if !yield(r.BorrowAndUpdate()) {
				return
			}
		}
	}
}

// Ready returns a channel that becomes receivable once this receiver has an
// unseen version, every sender is closed or the receiver is closed: when
// HasChanged would report true or ErrClosed. It lets a receiver sit in a
// select beside other channels. Receive from it at most once, then call
// HasChanged (and BorrowAndUpdate or Changed); call Ready again before the
// next select. A receive from it means HasChanged does not report false,
// nil, as long as nothing marked the version seen between Ready and the
// receive. Ready allocates nothing after its first call (see "Select" in
// the package documentation for synctest bubbles).
func (r *WatchReceiver[T]) Ready() <-chan struct{} {
	if r.news() {
		return closedChan
	}
	// Stamped with the version this receiver has seen: a wake-up for that
	// version leaves it armed (notify).
	return r.rd.arm(&r.c.q, r.news, int64(r.seen))
}

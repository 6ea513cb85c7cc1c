package gate

import (
	"context"
	"iter"
	"runtime"
	"sync/atomic"
)

// A watch channel (after tokio's sync::watch, tokio/src/sync/watch.rs) holds
// one value and a version. Senders replace or modify the value; receivers
// read the newest one whenever they like and can wait for the next version.
//
// # Storage: two slots, published by one store
//
// tokio keeps the value under a blocking RwLock, so a receiver that holds a
// borrow blocks every sender. gate keeps two copies of the value (slots)
// and a state word that says which one is current. A sender, holding the
// sender lock, writes the slot that is not current and then publishes it
// with a single store of the state word that also bumps the version: a
// reader that loads the state word and then reads the slot it names can
// never see a version newer than its value. Readers read only the current
// slot, so a reader never waits for a sender, and a sender writing the other
// slot never waits for the readers of the current one.
//
// What a sender must not do is write a slot while a reader that found it
// current a moment ago is still copying it. A seqlock would let the reader
// copy and then check the version, but in Go's memory model (and for the
// race detector) that copy races with the write: it is a data race, not a
// benign one, for a T with pointers or more than one word. So readers
// announce themselves instead: a reader adds one to a counter of the slot it
// is about to read, checks that the slot is still current, copies, and
// subtracts one. A sender waits until the counters of the slot it is about
// to write are all zero; the only readers it can find there are the few
// that loaded the state word just before the previous publish and have not
// yet noticed, or a reader still copying a value that was current two
// publishes ago. Their copy is a few instructions long, so the sender spins
// (yielding the processor) rather than park. The counters are sharded, one
// cache line per shard, both slots' counts in one word, and every handle is
// given a shard when it is made, so that parallel readers do not contend on
// one line. The read and the subtraction happen before the sender's load
// that sees zero, and the sender's write before its publishing store: every
// access to a slot is ordered by happens-before, with no unsafe and no
// allocation per send (a fresh immutable box per send, read through an
// atomic.Pointer, would allocate on every send).
//
// # Waiting
//
// Receivers that wait (Changed, WaitFor, and Ready's armed channel) wait on
// one wait queue. Each queued waiter records the version its receiver had
// seen (waiter.n); a sender that published a new version, or the last
// sender's Close, wakes those whose version is out of date. A waiting flag
// outside the state word tells a sender whether anyone is queued: the
// receiver sets it under the queue lock and then loads the state word, the
// sender stores the state word and then loads the flag; sync/atomic is
// sequentially consistent, so at least one of them sees the other and no
// wake-up is lost.

// State word of a watch channel.
//
// Bits (high to low):
//
//	63 ......... 4 | 3      | 2      | 1    | 0
//	version        | queued | locked | slot | closed
//
// The version counts the sends that notified receivers; it is bumped in the
// same write that publishes the slot written for it. slot is the index of
// the current slot; a silent modification (SendIfModified returning false,
// or a panic in its f) flips it without bumping the version. closed is set
// when the last sender closes and is never cleared.
//
// locked is the sender lock: a sender takes it with one CAS from a word with
// neither locked nor queued set, and the write that publishes its send
// releases it, so that an uncontended send costs two atomic
// read-modify-writes. queued is set, under txl.mu, while senders are parked
// on txl waiting for the lock; a release that finds it hands the lock to the
// oldest of them (locked stays set) in the same write that publishes, so
// the lock is handed FIFO and never barged. queued is never set while locked
// is clear. version, slot and closed are written only by the holder of the
// lock; queued is set by a sender that parks and cleared by the holder.
const (
	watchClosed       = 1 << iota // every sender is closed
	watchSlot                     // index of the current slot
	watchLocked                   // the sender lock is held
	watchQueued                   // senders are parked on txl for the lock
	watchVersionShift = iota      // shift of the version field
	watchVersionStep  = 1 << watchVersionShift
)

// Kinds of waiter on a watch channel's queue (waiter.needed).
const (
	watchPark = iota // a Changed or WaitFor parked on its own fresh channel: woken by close
	watchArm         // a receiver's Ready channel: woken by a token put into it
)

// watchCount is one shard of the reader counters: the number of readers now
// copying slot 0 in its low 32 bits and slot 1 in its high 32 bits. The
// padding keeps each shard on its own cache line (64 bytes on most
// processors), so that readers on different shards do not share one.
type watchCount struct {
	n atomic.Uint64
	_ [56]byte
}

// maxWatchShards bounds the reader counter shards of one channel, and so the
// words a sender checks before it writes.
const maxWatchShards = 16

// watchCore is the part of a watch channel's state that does not depend on
// the value's type: everything but the slots. Its methods are not generic,
// so that the compiler inlines their fast paths into the sends and reads of
// every watch[T].
type watchCore struct {
	state atomic.Uint64 // see the bit map above

	// waiting is 1 while q holds a waiter; set and cleared under q.mu,
	// loaded by senders without it after they publish.
	waiting atomic.Uint32

	tx     atomic.Int64  // open sender handles
	rx     atomic.Int64  // open receiver handles
	shards atomic.Uint32 // shard counter: the next handle's shard

	counts []watchCount // reader counter shards, a power of two of them

	q   waitQueue // receivers waiting for a new version or the close
	txl waitQueue // senders waiting for the sender lock (the locked bit)
	txq waitQueue // senders waiting in WaitClosed for the last receiver to close
}

// watch is the state a watch channel's handles share.
type watch[T any] struct {
	watchCore

	// slots holds the value twice. The current one (the slot bit) is read
	// by readers, announced in counts; the other is written only by the
	// holder of the sender lock, after it has seen no reader announced on it.
	slots [2]T
}

// newWatch returns a channel holding initial, with one sender and one
// receiver counted.
func newWatch[T any](initial T) *watch[T] {
	n := 1
	for n < runtime.GOMAXPROCS(0) && n < maxWatchShards {
		n <<= 1
	}
	c := &watch[T]{watchCore: watchCore{counts: make([]watchCount, n)}}
	c.slots[0] = initial
	c.tx.Store(1)
	c.rx.Store(1)
	return c
}

// shard returns the reader counter shard for a new handle, round robin.
func (c *watchCore) shard() *atomic.Uint64 {
	i := c.shards.Add(1) - 1
	return &c.counts[int(i)&(len(c.counts)-1)].n
}

// version returns the version field of state word s.
func version(s uint64) uint64 { return s >> watchVersionShift }

// readerDelta returns what a reader of the current slot of state word s adds
// to its shard: one in the half of the word that counts that slot.
func readerDelta(s uint64) uint64 { return 1 << (32 * (s & watchSlot >> 1)) }

// load returns a copy of the current value and the state word it was
// current in, announcing the read on shard. It never waits for a sender.
func (c *watch[T]) load(shard *atomic.Uint64) (T, uint64) {
	s, d := c.enter(shard)
	v := c.slots[s&watchSlot>>1]
	shard.Add(-d)
	return v, s
}

// enter announces a read of the current slot on shard and returns the state
// word that names it and what to subtract from shard once the copy is done.
// It retries only if a sender published (the other slot) between its first
// look at the state word and its announcement.
func (c *watchCore) enter(shard *atomic.Uint64) (s, d uint64) {
	for {
		s := c.state.Load()
		d := readerDelta(s)
		shard.Add(d)
		// Once announced, the slot is ours to copy if it is still the
		// current one: a sender that writes it after this point sees our
		// count and waits for us, and one that wrote it before we
		// announced published it (the slot bit) before we load here.
		s2 := c.state.Load()
		if (s^s2)&watchSlot == 0 {
			return s2, d
		}
		// Published in between: the slot we announced is no longer
		// current and may be written now. Look again.
		shard.Add(-d)
	}
}

// lock takes the sender lock, waiting FIFO behind other senders, and
// returns the state word as it was when it took it, with the locked bit
// clear but perhaps queued set: version, slot and closed stay as they are
// until the holder publishes (queued may be set meanwhile). unlock and
// publish take that word. Send and SendReplace inline it as tryLock and
// lockSlow.
func (c *watchCore) lock() uint64 {
	s, ok := c.tryLock()
	if !ok {
		s = c.lockSlow()
	}
	return s
}

// tryLock is lock's fast path: it takes the sender lock if it is free and no
// sender is parked, with one CAS, and returns the state word as lock does.
// It reports false (and the caller goes to lockSlow) if the lock was taken,
// a sender was parked, or the CAS lost to another sender.
func (c *watchCore) tryLock() (uint64, bool) {
	s := c.state.Load()
	return s, s&(watchLocked|watchQueued) == 0 && c.state.CompareAndSwap(s, s|watchLocked)
}

// lockSlow is lock once the lock was not free at first sight: it takes it if
// it is free with nobody parked, or parks at the back of txl until a release
// hands it over.
func (c *watchCore) lockSlow() uint64 {
	w := c.txl.newWaiter(bg)
	c.txl.mu.Lock()
	for {
		s := c.state.Load()
		if s&watchLocked == 0 {
			// Free, so nobody is parked (a release hands the lock to
			// the parked instead of clearing locked): take it. A failed
			// CAS lost to a fast-path lock: look again.
			if c.state.CompareAndSwap(s, s|watchLocked) {
				c.txl.mu.Unlock()
				c.txl.putWaiter(w)
				return s
			}
			continue
		}
		// Held: park, with queued set so that the holder's release comes
		// to txl. A failed CAS lost to the holder's release (or to a
		// fast-path lock after it): look again.
		if s&watchQueued != 0 || c.state.CompareAndSwap(s, s|watchQueued) {
			break
		}
	}
	c.txl.pushBack(w)
	c.txl.mu.Unlock()
	_ = park(context.Background(), w) // a hand-over: cannot fail
	c.txl.putWaiter(w)
	// The releaser wrote the word (locked set) before it woke us, and only
	// queued can change until we publish.
	return c.state.Load() &^ watchLocked
}

// unlock releases the sender lock taken when the state word was s (as lock
// returned it) by writing n, which must have locked and queued clear: one
// CAS if nobody parked, else a hand-over to the oldest parked sender.
func (c *watchCore) unlock(s, n uint64) {
	// A CAS that fails found queued set since lock: hand over.
	if s&watchQueued != 0 || !c.state.CompareAndSwap(s|watchLocked, n) {
		c.handOff(n)
	}
}

// handOff releases the sender lock by writing n (locked and queued clear)
// unless a sender is parked: then it writes n with locked still set, and
// queued set if more are parked, and wakes the oldest, which now holds the
// lock.
func (c *watchCore) handOff(n uint64) {
	c.txl.mu.Lock()
	if c.state.Load()&watchQueued == 0 {
		// Nobody parked (unlock found queued clear, and it is set only
		// under txl.mu, which we hold): a plain release.
		c.state.Store(n)
		c.txl.mu.Unlock()
		return
	}
	w := c.txl.popFront()
	n |= watchLocked
	if !c.txl.empty() {
		n |= watchQueued
	}
	// A plain store: while queued is set and we hold txl.mu, nobody else
	// writes the word.
	c.state.Store(n)
	c.txl.mu.Unlock()
	wake(w)
}

// spare returns the index of the slot that is not current in state word s,
// once no reader is copying it any more. The sender lock must be held. Send
// and SendReplace inline it as trySpare and drain.
func (c *watchCore) spare(s uint64) uint64 {
	j, ok := c.trySpare(s)
	if !ok {
		c.drain(j)
	}
	return j
}

// trySpare is spare's fast path: it returns the index of the slot that is
// not current in state word s and reports whether no reader is announced on
// it. If one is, the caller waits for it with drain.
func (c *watchCore) trySpare(s uint64) (uint64, bool) {
	j := s&watchSlot>>1 ^ 1
	var n uint64
	for k := range c.counts {
		n |= c.counts[k].n.Load()
	}
	return j, n&(uint64(1<<32-1)<<(32*j)) == 0
}

// drain waits until no shard counts a reader of slot j.
func (c *watchCore) drain(j uint64) {
	mask := uint64(1<<32-1) << (32 * j)
	for k := range c.counts {
		// A reader found here loaded the state word before the previous
		// publish and is about to notice (or is finishing a copy begun
		// before it): a matter of instructions, so spin, yielding the
		// processor so that a preempted reader can finish.
		for spin := 0; c.counts[k].n.Load()&mask != 0; spin++ {
			if spin >= 4 {
				runtime.Gosched()
			}
		}
	}
}

// publish makes slot j current and, if bump, bumps the version, in the
// write that releases the sender lock taken when the state word was s; then
// it wakes the receivers that have not seen the new version. Send and
// SendReplace inline it as tryPublish, the waiting check and publishSlow.
func (c *watchCore) publish(s, j uint64, bump bool) {
	n, released := c.tryPublish(s, j, bump)
	// The load of the flag after the write: see "Waiting" above.
	if !released || bump && c.waiting.Load() != 0 {
		c.publishSlow(released, n, bump)
	}
}

// tryPublish is publish's fast path: it computes the word n that publishes
// slot j (and bumps the version if bump) for a holder of the sender lock
// that took it when the word was s, and releases the lock by writing n with
// one CAS if no sender is parked. It reports whether it did; if not, a
// sender parked since lock (queued), and publishSlow hands the lock over.
func (c *watchCore) tryPublish(s, j uint64, bump bool) (n uint64, released bool) {
	n = s&^(watchSlot|watchQueued) | j<<1
	if bump {
		n += watchVersionStep
	}
	return n, s&watchQueued == 0 && c.state.CompareAndSwap(s|watchLocked, n)
}

// publishSlow finishes a publish: it hands the lock over (writing n) unless
// released, and wakes the receivers if bump.
func (c *watchCore) publishSlow(released bool, n uint64, bump bool) {
	if !released {
		c.handOff(n)
	}
	if bump && c.waiting.Load() != 0 {
		c.wake()
	}
}

// wake wakes every queued waiter whose receiver has not seen the current
// version, or all of them once the channel is closed. Parked waiters are
// woken after q.mu is released, as everywhere in gate. A Ready channel gets
// its token under q.mu instead: a non-blocking send on a one-slot channel,
// which never waits. Doing it under the lock is what lets Ready drain a
// stale token, look at the version and re-arm as one step against wakers,
// so that a token in a Ready channel always stands for a version its
// receiver has not seen (nothing invented).
func (c *watchCore) wake() {
	c.q.mu.Lock()
	s := c.state.Load()
	var first, last *waiter
	for w := c.q.head; w != nil; {
		next := w.next
		if s&watchClosed != 0 || w.n != int64(version(s)) {
			c.q.remove(w)
			if w.needed == watchArm {
				select {
				case w.ready <- struct{}{}:
				default: // a token is there already
				}
			} else {
				if last == nil {
					first = w
				} else {
					last.next = w
				}
				last = w
			}
		}
		// else: it has seen this version already (it looked after we
		// published and before we took the lock); leave it queued.
		w = next
	}
	if c.q.empty() {
		c.waiting.Store(0)
	}
	c.q.mu.Unlock()
	wakeAll(first)
}

// enqueueLocked queues w, which has seen version seen, unless the state word
// already shows a newer version or the close; it reports whether it queued
// it. q.mu must be held. The flag is set before the state word is loaded:
// see "Waiting" above.
func (c *watchCore) enqueueLocked(w *waiter, seen uint64) bool {
	c.waiting.Store(1)
	s := c.state.Load()
	if s&watchClosed != 0 || version(s) != seen {
		if c.q.empty() {
			c.waiting.Store(0)
		}
		return false
	}
	w.n = int64(seen)
	c.q.pushBack(w)
	return true
}

// withdrawLocked removes a queued w and clears the flag if the queue is now
// empty. q.mu must be held.
func (c *watchCore) withdrawLocked(w *waiter) {
	c.q.remove(w)
	if c.q.empty() {
		c.waiting.Store(0)
	}
}

// waitChange parks until the version differs from seen or the channel is
// closed (nil), or ctx is done (ctx.Err()). It may return nil with nothing
// new (a wake-up meant for an older version); callers look again.
func (c *watchCore) waitChange(ctx context.Context, seen uint64) error {
	w := c.q.newWaiter(bg)
	w.needed = watchPark
	c.q.mu.Lock()
	queued := c.enqueueLocked(w, seen)
	c.q.mu.Unlock()
	if !queued {
		c.q.putWaiter(w)
		return nil
	}
	if err := park(ctx, w); err != nil {
		if c.q.withdraw(w) {
			// Still queued: gone now (withdraw removed it, mu held).
			if c.q.empty() {
				c.waiting.Store(0)
			}
			c.q.mu.Unlock()
			c.q.putWaiter(w)
			return err
		}
		// Woken as ctx ended: the caller looks at the version; a done
		// ctx still fails the call unless something new came.
	}
	c.q.putWaiter(w)
	return nil
}

// closeSenders marks the channel closed, after any send in progress, and
// wakes every waiting receiver.
func (c *watchCore) closeSenders() {
	s := c.lock()
	c.unlock(s, s&^watchQueued|watchClosed)
	if c.waiting.Load() != 0 {
		c.wake()
	}
}

// closeReceiver counts one receiver handle out and, for the last one, wakes
// the senders waiting in WaitClosed.
func (c *watchCore) closeReceiver() {
	// The count drops under txq.mu, which WaitClosed's check of it holds
	// too: only waiters that queued while a receiver was open are woken, and
	// a WaitClosed that comes after a Subscribe that follows this close is
	// not woken by it.
	c.txq.mu.Lock()
	if c.rx.Add(-1) != 0 {
		c.txq.mu.Unlock()
		return
	}
	wake := c.txq.takeAllChain()
	c.txq.mu.Unlock()
	wakeAll(wake)
}

// Watch returns the sender and the receiver of a new watch channel that holds
// initial. The receiver has seen initial: its first Changed waits for a
// send.
func Watch[T any](initial T) (*WatchSender[T], *WatchReceiver[T]) {
	c := newWatch(initial)
	return &WatchSender[T]{c: c, shard: c.shard()}, newWatchReceiver(c, 0)
}

// A WatchSender is the sending half of a watch channel, made by [Watch] and
// [WatchSender.Clone]. Every send replaces (or modifies) the one value the
// channel holds; receivers see the newest value, not every value.
//
// Senders are serialized by a fair (FIFO) lock that each send holds only to
// write the value (and, for SendModify and SendIfModified, to run f). A send
// does not wait for receivers to read: they read the other copy of the value.
// Only a receiver that is still copying an older value out of the copy a send
// is about to write makes the send yield until that copy is done, a few
// instructions later.
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
	_      noCopy
	c      *watch[T]
	shard  *atomic.Uint64 // reader counter shard for Borrow
	closed atomic.Bool    // this handle's Close was called
}

// Send stores v as the new value and notifies every receiver, unless no
// receiver is left: then it returns ErrClosed and v is not stored. A sender
// whose own Close was called also gets ErrClosed.
func (s *WatchSender[T]) Send(v T) error {
	c := s.c
	if s.closed.Load() || c.rx.Load() == 0 {
		return ErrClosed
	}
	// lock, spare and publish, inlined by hand: the compiler would not.
	st, ok := c.tryLock()
	if !ok {
		st = c.lockSlow()
	}
	if s.closed.Load() {
		c.unlock(st, st&^watchQueued)
		return ErrClosed
	}
	j, ok := c.trySpare(st)
	if !ok {
		c.drain(j)
	}
	c.slots[j] = v
	if n, ok := c.tryPublish(st, j, true); !ok || c.waiting.Load() != 0 {
		c.publishSlow(ok, n, true)
	}
	return nil
}

// SendReplace stores v as the new value, whether or not any receiver is
// left, notifies every receiver and returns the value it replaced. It panics
// if this sender's Close was called: the value would be lost.
func (s *WatchSender[T]) SendReplace(v T) T {
	c := s.c
	// lock, spare and publish, inlined by hand as in Send.
	st, ok := c.tryLock()
	if !ok {
		st = c.lockSlow()
	}
	if s.closed.Load() {
		c.unlock(st, st&^watchQueued)
		panic("gate: SendReplace on closed WatchSender")
	}
	j, ok := c.trySpare(st)
	if !ok {
		c.drain(j)
	}
	old := c.slots[j^1] // the current value: only senders write, and we hold the lock
	c.slots[j] = v
	if n, ok := c.tryPublish(st, j, true); !ok || c.waiting.Load() != 0 {
		c.publishSlow(ok, n, true)
	}
	return old
}

// SendModify calls f with a pointer to a copy of the current value, which
// becomes the new value, and notifies every receiver, whether or not f
// changed it. See SendIfModified for what f may do and what a panic in f
// leaves behind.
func (s *WatchSender[T]) SendModify(f func(*T)) {
	s.sendIfModified("gate: SendModify on closed WatchSender", func(v *T) bool {
		f(v)
		return true
	})
}

// SendIfModified calls f with a pointer to a copy of the current value,
// which becomes the new value. Receivers are notified (the version is
// bumped) only if f returns true; if it returns false the new value is a
// silent modification: Borrow returns it, but no receiver sees a change. It
// reports what f returned.
//
// f runs while this sender holds the sender lock: other sends wait for it,
// receivers do not (they read the previous value until f returns). f must
// not send on this channel. If f panics, what it changed so far becomes the
// value, as a silent modification; no receiver is notified, the sender lock
// is released and the panic goes on to the caller: the channel stays
// usable. SendIfModified panics if this sender's Close was called.
func (s *WatchSender[T]) SendIfModified(f func(*T) bool) bool {
	return s.sendIfModified("gate: SendIfModified on closed WatchSender", f)
}

func (s *WatchSender[T]) sendIfModified(msg string, f func(*T) bool) bool {
	c := s.c
	st := c.lock()
	if s.closed.Load() {
		c.unlock(st, st&^watchQueued)
		panic(msg)
	}
	j := c.spare(st)
	c.slots[j] = c.slots[j^1]
	returned := false
	defer func() {
		if !returned {
			// f panicked (or called runtime.Goexit): publish what it
			// did, silently, and release the lock; the panic goes on.
			c.publish(st, j, false)
		}
	}()
	modified := f(&c.slots[j])
	returned = true
	c.publish(st, j, modified)
	return modified
}

// Borrow returns a copy of the current value. It never waits for a send
// in progress.
func (s *WatchSender[T]) Borrow() T {
	// load, inlined by hand as in the receiver's Borrow.
	c := s.c
	st, d := c.enter(s.shard)
	v := c.slots[st&watchSlot>>1]
	s.shard.Add(-d)
	return v
}

// Subscribe returns a new receiver that has seen the current value. It
// reopens a channel whose receivers were all closed: Send works again. On a
// sender whose own Close was called it returns a closed receiver.
func (s *WatchSender[T]) Subscribe() *WatchReceiver[T] {
	c := s.c
	if s.closed.Load() {
		return &WatchReceiver[T]{c: c, shard: c.shard(), closed: true, rd: make(chan struct{}, 1)}
	}
	c.rx.Add(1)
	return newWatchReceiver(c, version(c.state.Load()))
}

// ReceiverCount returns the number of receivers not yet closed.
func (s *WatchSender[T]) ReceiverCount() int { return int(s.c.rx.Load()) }

// Clone returns a new sender of the same channel. The channel is closed
// for receivers once every sender, clones included, is closed. The clone of
// a closed sender is closed.
func (s *WatchSender[T]) Clone() *WatchSender[T] {
	c := s.c
	n := &WatchSender[T]{c: c, shard: c.shard()}
	if s.closed.Load() {
		n.closed.Store(true)
		return n
	}
	c.tx.Add(1)
	return n
}

// Close closes this sender. Once every sender is closed, receivers see the
// channel closed: waiting ones wake up, Changed and HasChanged report
// ErrClosed once the last value has been seen (HasChanged at once), and the
// value stays readable. Close waits for a send in progress on another
// sender to finish. A second Close does nothing.
func (s *WatchSender[T]) Close() {
	if !s.closed.CompareAndSwap(false, true) {
		return
	}
	if s.c.tx.Add(-1) == 0 {
		s.c.closeSenders()
	}
}

// IsClosed reports whether no receiver is left (or this sender is closed).
// A later Subscribe opens the channel again.
func (s *WatchSender[T]) IsClosed() bool {
	return s.closed.Load() || s.c.rx.Load() == 0
}

// WaitClosed waits until no receiver is left. If ctx is done first (or
// already when WaitClosed is called) it returns ctx.Err(). It returns
// ErrClosed if this sender's Close was called before; a Close while it waits
// does not end it (it waits for the receivers, not for this handle). A
// receiver subscribed after the last one closed does not undo a WaitClosed
// that has returned.
func (s *WatchSender[T]) WaitClosed(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return ErrClosed
	}
	c := s.c
	if c.rx.Load() == 0 {
		return nil
	}
	// closeReceiver wakes the queue after its decrement to zero.
	return c.txq.waitUntil(ctx, func() bool { return c.rx.Load() == 0 })
}

// A WatchReceiver is a receiving half of a watch channel, made by [Watch],
// [WatchSender.Subscribe] and [WatchReceiver.Clone]. It reads the channel's
// value at any time (Borrow) and remembers the version it has seen, so that
// it can wait for a newer one (Changed, WaitFor, Changes, Ready).
//
// A receiver is used by one goroutine at a time; Clone gives another
// goroutine its own. Its zero value is not usable: make one with [Watch]. A
// WatchReceiver must not be copied after first use.
//
// In the terminology of the Go memory model, a send synchronizes before
// every call of a receiver that returns the value it stored, or a later one,
// or that reports its version as new.
type WatchReceiver[T any] struct {
	_      noCopy
	c      *watch[T]
	shard  *atomic.Uint64 // reader counter shard for Borrow
	seen   uint64         // the version this receiver has seen
	closed bool           // this handle's Close was called

	// rd is Ready's channel, made with the receiver so that a receiver made
	// outside any synctest bubble never uses a channel made inside one. It
	// holds at most one token, put there (by Ready or by a waker under
	// c.q.mu) only while this receiver has something to report.
	rd  chan struct{}
	arm waiter // rd's place on c.q while armed (needed == watchArm, ready == rd)
}

func newWatchReceiver[T any](c *watch[T], seen uint64) *WatchReceiver[T] {
	r := &WatchReceiver[T]{c: c, shard: c.shard(), seen: seen, rd: make(chan struct{}, 1)}
	r.arm.needed = watchArm
	r.arm.ready = r.rd
	return r
}

// Borrow returns a copy of the current value. It does not mark the value
// seen and never waits for a send in progress.
func (r *WatchReceiver[T]) Borrow() T {
	// load, inlined by hand: a call less per read.
	c := r.c
	st, d := c.enter(r.shard)
	v := c.slots[st&watchSlot>>1]
	r.shard.Add(-d)
	return v
}

// BorrowAndUpdate returns a copy of the current value and marks its version
// seen. After its own Close, a receiver still returns the value but marks
// nothing.
func (r *WatchReceiver[T]) BorrowAndUpdate() T {
	v, s := r.c.load(r.shard)
	if !r.closed {
		r.seen = version(s)
	}
	return v
}

// HasChanged reports whether the channel holds a version this receiver has
// not seen. Once every sender is closed it returns false, ErrClosed, even
// if a version is unseen (Changed still returns it); so does a receiver
// whose own Close was called. It marks nothing.
func (r *WatchReceiver[T]) HasChanged() (bool, error) {
	s := r.c.state.Load()
	if r.closed || s&watchClosed != 0 {
		return false, ErrClosed
	}
	return version(s) != r.seen, nil
}

// Changed waits for a version this receiver has not seen and marks it seen.
// If one is there already it returns nil at once, even when every sender is
// closed; otherwise it waits for a send (a notifying one: not a silent
// modification). It returns ErrClosed once every sender is closed and the
// last version has been seen, or after the receiver's own Close. If ctx is
// done first (or already when Changed is called) it returns ctx.Err() and
// marks nothing.
func (r *WatchReceiver[T]) Changed(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if r.closed {
		return ErrClosed
	}
	s := r.c.state.Load()
	if version(s) != r.seen {
		r.seen = version(s)
		return nil
	}
	if s&watchClosed != 0 {
		return ErrClosed
	}
	return r.changedSlow(ctx)
}

// changedSlow is Changed once it must wait.
func (r *WatchReceiver[T]) changedSlow(ctx context.Context) error {
	for {
		err := r.c.waitChange(ctx, r.seen)
		s := r.c.state.Load()
		if version(s) != r.seen {
			// Even with ctx ended: the new version came first.
			r.seen = version(s)
			return nil
		}
		if err != nil {
			return err
		}
		if s&watchClosed != 0 {
			return ErrClosed
		}
		// Woken for a version we had seen already: wait again.
	}
}

// MarkChanged makes this receiver treat the current version as unseen:
// HasChanged reports true and Changed returns at once, whatever is sent.
func (r *WatchReceiver[T]) MarkChanged() {
	if !r.closed {
		r.seen-- // any other version would do; wraps harmlessly
	}
}

// MarkUnchanged marks the current version seen without reading the value.
func (r *WatchReceiver[T]) MarkUnchanged() {
	if !r.closed {
		r.seen = version(r.c.state.Load())
	}
}

// WaitFor waits until f reports true for the channel's value and returns
// that value, marked seen. f is called with the current value first, even a
// seen one, and then with each new value this receiver sees; values sent in
// quick succession may be skipped. Each value f is called with is marked
// seen. WaitFor returns ErrClosed if f reports false for the last value once
// every sender is closed, or after the receiver's own Close; ctx.Err() if
// ctx is done first (or already when it is called). A panic in f goes on to
// the caller and leaves the receiver usable.
func (r *WatchReceiver[T]) WaitFor(ctx context.Context, f func(T) bool) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	if r.closed {
		return zero, ErrClosed
	}
	for {
		v, s := r.c.load(r.shard)
		r.seen = version(s)
		if f(v) {
			return v, nil
		}
		if s&watchClosed != 0 {
			return zero, ErrClosed // v was the last value
		}
		if err := r.c.waitChange(ctx, r.seen); err != nil {
			return zero, err
		}
	}
}

// Clone returns a new receiver of the same channel that has seen what this
// one has. The clone of a closed receiver is closed.
func (r *WatchReceiver[T]) Clone() *WatchReceiver[T] {
	c := r.c
	if r.closed {
		return &WatchReceiver[T]{c: c, shard: c.shard(), closed: true, rd: make(chan struct{}, 1)}
	}
	c.rx.Add(1)
	return newWatchReceiver(c, r.seen)
}

// Close closes this receiver. Once every receiver is closed, Send returns
// ErrClosed and WaitClosed returns, until a sender Subscribes. A second
// Close does nothing.
func (r *WatchReceiver[T]) Close() {
	if r.closed {
		return
	}
	r.closed = true
	c := r.c
	c.q.mu.Lock()
	if r.arm.queued {
		c.withdrawLocked(&r.arm)
	}
	c.q.mu.Unlock()
	c.closeReceiver()
}

// IsClosed reports whether every sender is closed (or this receiver is).
func (r *WatchReceiver[T]) IsClosed() bool {
	return r.closed || r.c.state.Load()&watchClosed != 0
}

// Changes returns an iterator that waits with Changed and then yields
// BorrowAndUpdate, again and again, until the channel is closed and its last
// value seen, or ctx is done. It does not yield the value current when it
// starts unless that is unseen.
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
// unseen version or every sender is closed: when HasChanged would report
// true or ErrClosed. It lets a receiver sit in a select beside other
// channels. Receive from it at most once, then call HasChanged (and
// BorrowAndUpdate or Changed); call Ready again before the next select. A
// receive from it means HasChanged does not report false, nil, as long as
// nothing marked the version seen between Ready and the receive. It is
// always the same channel and Ready allocates nothing.
//
// That channel is made with the receiver. Under [testing/synctest], select on
// the Ready of a receiver made in the same bubble (a select on one made
// outside does not count as durably blocked), and close a receiver armed in a
// bubble before the bubble ends: a send from outside it would otherwise wake
// a channel of the bubble, which the runtime forbids.
func (r *WatchReceiver[T]) Ready() <-chan struct{} {
	c := r.c
	c.q.mu.Lock()
	// A token left from an earlier Ready may stand for a version marked
	// seen since: drop it and look again.
	select {
	case <-r.rd:
	default:
	}
	// Re-arm for the version seen now: an earlier Ready may have armed
	// for one since marked seen (or MarkChanged).
	if r.arm.queued {
		c.withdrawLocked(&r.arm)
	}
	if r.closed || !c.enqueueLocked(&r.arm, r.seen) {
		// Something to report now (or closed): receivable at once. The
		// send cannot block: drained above, and wakers need the lock.
		r.rd <- struct{}{}
	}
	c.q.mu.Unlock()
	return r.rd
}

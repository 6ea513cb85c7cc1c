package gate

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
)

// This file is the broadcast channel: one ring of exactly capacity slots
// shared by every handle, a send position (tail), and a cursor per receiver,
// after tokio's broadcast.rs (tokio/src/sync/broadcast.rs) but with the
// capacity the user asked for instead of the next power of two.
//
// Senders serialize on the channel's mutex (mu), which also guards the
// receiver and sender counts and the three wait lists. A receiver reads
// without any lock: it pins the slot that holds its next value, copies the
// value and unpins it while counting itself off the slot's reader count, two
// atomic adds on the slot's state word. It takes mu only to wait, to find out
// how far it lagged, or when it is the last reader of a slot that a SendWait
// is waiting for.

// maxBroadcastReceivers bounds the live receivers of one channel, so that a
// slot's reader count and pin count fit their fields of the state word.
const maxBroadcastReceivers = 1<<31 - 1

// State word of a broadcastSlot.
//
// Bits (high to low):
//
//	63 .......... 32 | 31 ........... 1 | 0
//	readers to go    | readers pinning  | writing
//
// readers to go (rem) is the number of receivers that were subscribed when the
// slot's value was sent and have not read it (nor closed) yet. It is set by
// the sender and only decreases until the slot is written again. A plain Send
// overwrites a slot whatever its rem (those readers lag); SendWait waits for
// rem == 0 on the slot it is about to overwrite, the oldest.
//
// readers pinning (busy) counts receivers inside their copy of the value. A
// writer takes the slot only when busy is 0, by setting the writing bit in a
// CAS, and gives it back with an add that sets rem and clears the bit. A
// reader pins with one add; if the word it got back has the writing bit set,
// the slot is being written: it unpins with another add and takes the slow
// path. Both sides only add to busy, never store it, so the transient pins of
// readers that back off are never lost.
//
// Why not a lock per slot, as tokio has: the common case, a reader that is
// not lagging, needs only these two adds on the slot it reads, and a sender
// one CAS and one add on the slot it writes; readers never touch each other's
// state and never block a sender except during a copy. A seqlock (copy, then
// check a version) would be cheaper still but is a data race on val, which
// for a T with pointers is not memory safe.
const (
	broadcastWriting   = 1                                  // a sender is writing pos and val
	broadcastBusyOne   = 1 << 1                             // one reader pinning
	broadcastBusyMask  = (1<<31 - 1) << 1                   // readers pinning
	broadcastRemShift  = 32                                 // shift of the readers-to-go field
	broadcastRemOne    = 1 << broadcastRemShift             // one reader to go
	broadcastUnpinRead = broadcastBusyOne + broadcastRemOne // a reader done: unpin and count itself off
)

// Values of waiter.status for a SendWait waiter, besides wokeClosed.
const (
	broadcastWaiting  = wokeGranted // queued, not told anything
	broadcastNotified = wokeOwner   // at the head, told that the oldest slot is free; still queued
)

// waiter.n of a receiver's Ready registration on recvQ, which is signalled
// with a token instead of a close.
const broadcastArm = 1

// A broadcastSlot holds one value of the ring.
type broadcastSlot[T any] struct {
	state atomic.Uint64 // see the bit map above
	// pos is the absolute position of the value held (the tail at its Send).
	// pos and val are written only by a sender holding mu and the writing
	// bit, and read by receivers that pinned the slot or hold mu.
	pos uint64
	val T
}

// broadcastChan is what every handle of one broadcast channel shares.
type broadcastChan[T any] struct {
	slots    []broadcastSlot[T]
	capacity uint64

	// tail is the number of values sent, the position of the next one. It is
	// stored under mu after the slot it covers is published, so tail > n
	// tells a receiver at n that its slot holds n or something newer. It
	// sits on its own cache line: the sender writes it for every value and
	// receivers read it when they catch up.
	_    [64]byte
	tail atomic.Uint64
	_    [56]byte

	closed     atomic.Bool  // every sender handle is closed; set under mu, never cleared
	rxCount    atomic.Int64 // live receivers; written under mu
	sendQueued atomic.Bool  // sendQ is non-empty; written under mu

	mu      sync.Mutex
	tailIdx int   // tail % capacity; guarded by mu
	txCount int64 // open sender handles; guarded by mu
	lastID  int64 // the last sender handle id handed out; guarded by mu

	// The three wait lists are guarded by mu, not by their own locks (their
	// spare waiters are used as usual):
	//   - recvQ: receivers parked in Recv (waiter.n 0, woken by a close)
	//     and receivers armed by Ready (waiter.n broadcastArm, a token is
	//     sent on their channel under mu); every Send and the last sender's
	//     Close take them all;
	//   - sendQ: SendWait callers, FIFO; waiter.n is the id of the sender
	//     handle it was called on;
	//   - closeQ: WaitClosed callers, woken when the last receiver closes.
	recvQ, sendQ, closeQ waitQueue
}

// A BroadcastSender is the sending half of a broadcast channel made by
// [Broadcast]. Every value sent goes to every receiver subscribed at the time
// of the send.
//
// A BroadcastSender is safe for use by any number of goroutines at once;
// [BroadcastSender.Clone] makes another handle on the same channel. The
// channel is closed for its receivers once every sender handle is closed. A
// BroadcastSender must not be copied after first use (handles are pointers).
//
// In the terminology of the Go memory model, a Send or SendWait that returns
// without error synchronizes before every receive that returns its value, and
// the Close of the last sender handle synchronizes before every receive that
// returns [ErrClosed] because of it.
type BroadcastSender[T any] struct {
	_      noCopy
	c      *broadcastChan[T]
	id     int64 // identifies the handle's SendWait waiters on sendQ
	closed bool  // Close was called; guarded by c.mu
}

// A BroadcastReceiver is the receiving half of a broadcast channel. It
// receives, in order, every value sent after it subscribed, unless it falls
// more than the capacity behind: then it gets a [*LaggedError] saying how
// many values it missed and goes on with the oldest value still held.
//
// A BroadcastReceiver is used by one goroutine at a time;
// [BroadcastReceiver.Resubscribe] and [BroadcastSender.Subscribe] give other
// goroutines receivers of their own. It must not be copied after first use
// (handles are pointers). Close it when it is no longer needed: an open
// receiver counts as a reader of every value sent, which SendWait waits for.
//
// In the terminology of the Go memory model, a Send or SendWait synchronizes
// before each receive that returns the value it sent.
type BroadcastReceiver[T any] struct {
	_    noCopy
	c    *broadcastChan[T]
	next uint64 // position of the next value to receive
	idx  int    // next % capacity
	seen uint64 // a tail observed earlier: while next < seen, a value (or a lag) is there
	// closed is set by Close. The fields above and closed belong to the
	// goroutine using the receiver; Close also reads next under mu.
	closed bool
	// arm is the receiver's registration on recvQ for Ready. Its channel,
	// with room for one token, is made with the receiver and kept for its
	// whole life: while the arm is queued the channel is empty, and a
	// token is sent (under mu) only as the arm is taken off the list.
	arm waiter
}

// Broadcast returns the two halves of a broadcast channel that holds exactly
// capacity values. Every receiver sees every value sent after it subscribed;
// a receiver more than capacity values behind loses the oldest ones (see
// [BroadcastReceiver.Recv]). The ring of capacity slots is allocated here.
// Broadcast panics if capacity is less than 1 or more than MaxPermits.
//
// Unlike tokio's broadcast::channel, the capacity is not rounded up to a
// power of two: Broadcast(3) holds 3 values.
func Broadcast[T any](capacity int) (*BroadcastSender[T], *BroadcastReceiver[T]) {
	if capacity < 1 || capacity > MaxPermits {
		panic("gate: Broadcast: capacity out of range [1, MaxPermits]")
	}
	c := &broadcastChan[T]{
		slots:    make([]broadcastSlot[T], capacity),
		capacity: uint64(capacity),
		txCount:  1,
		lastID:   1,
	}
	c.rxCount.Store(1)
	return &BroadcastSender[T]{c: c, id: 1}, newBroadcastReceiver(c, 0)
}

// newBroadcastReceiver returns an open receiver of c at position pos; the
// caller counts it in rxCount under mu. It allocates, so call it before
// taking mu.
func newBroadcastReceiver[T any](c *broadcastChan[T], pos uint64) *BroadcastReceiver[T] {
	r := &BroadcastReceiver[T]{c: c}
	r.arm.n = broadcastArm
	r.arm.ready = make(chan struct{}, 1)
	r.setNext(pos)
	return r
}

// setNext moves the receiver's cursor to pos.
func (r *BroadcastReceiver[T]) setNext(pos uint64) {
	r.next = pos
	r.seen = pos
	r.idx = int(pos % r.c.capacity)
}

// ---------------------------------------------------------------------------
// Sending

// Send sends v to every receiver subscribed now and returns how many there
// are. It never waits for a receiver: when the ring is full it overwrites the
// oldest value, and receivers that had not read it will get a
// [*LaggedError]. (It may yield while a receiver copies the very slot it is
// about to write.) Send does not wait behind goroutines blocked in SendWait.
//
// Send returns [ErrClosed], and v is not stored, if there is no receiver or
// this handle was closed. A return of n > 0 does not mean that any receiver
// will read v: a receiver may close first, or lag past it.
func (s *BroadcastSender[T]) Send(v T) (int, error) {
	c := s.c
	c.mu.Lock()
	if s.closed || c.rxCount.Load() == 0 {
		c.mu.Unlock()
		return 0, ErrClosed
	}
	n, recv := c.sendLocked(v)
	var head chan struct{}
	if c.sendQueued.Load() {
		// Overwriting the oldest value may have freed the next one for a
		// waiting SendWait (its readers may all have subscribed later).
		head = c.notifySendLocked()
	}
	c.mu.Unlock()
	c.wakeRecv(recv)
	if head != nil {
		close(head)
	}
	return n, nil
}

// SendWait sends v to every receiver subscribed now and returns how many
// there are, waiting first, if the ring is full, until every live receiver
// has read the oldest value, so that no receiver loses a value to this send.
// SendWait callers are served in the order they started waiting (FIFO); a
// plain Send does not wait behind them and may take the slot a waiter was
// waiting for, which then waits for the next one.
//
// If ctx is already done, SendWait returns ctx.Err() without sending, even if
// there is room. If ctx is done before v is sent it returns ctx.Err(), v is
// not stored, and the waiter leaves the queue. It returns [ErrClosed], v not
// stored, if there is no receiver (when it is called, or once the last one
// closes while it waits) or this handle is closed (before or while it
// waits). A receiver that never reads and is never closed blocks SendWait
// forever: that is the backpressure it asks for.
func (s *BroadcastSender[T]) SendWait(ctx context.Context, v T) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	c := s.c
	c.mu.Lock()
	if s.closed || c.rxCount.Load() == 0 {
		c.mu.Unlock()
		return 0, ErrClosed
	}
	if c.sendQ.empty() && c.slotFreeLocked() {
		n, recv := c.sendLocked(v)
		c.mu.Unlock()
		c.wakeRecv(recv)
		return n, nil
	}
	c.mu.Unlock()
	return s.sendWaitSlow(ctx, v)
}

// sendWaitSlow is the slow path of SendWait: it queues, parks until it is at
// the head and told that the oldest slot is free, and sends. The waiter stays
// on the list while it is told (status broadcastNotified), so that it keeps
// its place if a plain Send takes the slot before it gets there.
func (s *BroadcastSender[T]) sendWaitSlow(ctx context.Context, v T) (int, error) {
	c := s.c
	w := c.sendQ.newWaiter(bg)
	w.n = s.id
	c.mu.Lock()
	for {
		if w.status == wokeClosed {
			// Removed from the list by Close (of this handle or of the last
			// receiver). The channel in w.ready is closed by that Close if we
			// had not been told our turn had come, and by the one who told us
			// otherwise: wait for it, so that no one touches w after we reuse
			// it.
			c.mu.Unlock()
			<-w.ready
			c.sendQ.putWaiter(w)
			if err := ctx.Err(); err != nil {
				return 0, err
			}
			return 0, ErrClosed
		}
		if err := ctx.Err(); err != nil {
			// Done before we sent: leave, passing the turn on if we were
			// told it had come.
			var head chan struct{}
			if w.queued {
				c.sendQ.remove(w)
				c.sendQueued.Store(!c.sendQ.empty())
				head = c.notifySendLocked()
			}
			c.mu.Unlock()
			if head != nil {
				close(head)
			}
			c.sendQ.putWaiter(w)
			return 0, err
		}
		if s.closed || c.rxCount.Load() == 0 {
			if w.queued {
				c.sendQ.remove(w)
				c.sendQueued.Store(!c.sendQ.empty())
			}
			c.mu.Unlock()
			c.sendQ.putWaiter(w)
			return 0, ErrClosed
		}
		if (c.sendQ.head == w || c.sendQ.empty()) && c.slotFreeLocked() {
			// Our turn and the oldest slot is free.
			if w.queued {
				c.sendQ.remove(w)
				c.sendQueued.Store(!c.sendQ.empty())
			}
			n, recv := c.sendLocked(v)
			next := c.notifySendLocked() // the next waiter may go too
			c.mu.Unlock()
			c.wakeRecv(recv)
			if next != nil {
				close(next)
			}
			c.sendQ.putWaiter(w)
			return n, nil
		}
		if w.status == broadcastNotified {
			// We were told, but a plain Send took the slot first: wait
			// again, at the head, on a new channel (the old one is closed).
			// Nobody signals a waiter whose status is not broadcastWaiting,
			// so w stays untouched while we make it.
			c.mu.Unlock()
			ready := make(chan struct{})
			c.mu.Lock()
			if w.status == broadcastNotified {
				// Not closed meanwhile (that would have set wokeClosed).
				w.ready, w.status = ready, broadcastWaiting
			}
			continue // look again before parking
		}
		if !w.queued {
			c.sendQ.pushBack(w)
			// Publish the flag before looking at the slot again: a reader
			// that counts itself off the oldest slot does so before it loads
			// the flag, so either we see the slot free here or it sees the
			// flag and comes to mu to tell us (sequentially consistent
			// atomics; no lost wake-up).
			c.sendQueued.Store(true)
			continue
		}
		c.mu.Unlock()
		park(ctx, w) // whatever woke us, look again under mu
		c.mu.Lock()
	}
}

// slotFreeLocked reports whether the slot at tail, which the next send
// overwrites, has no reader left to read it (or was never written). mu must
// be held.
func (c *broadcastChan[T]) slotFreeLocked() bool {
	return c.slots[c.tailIdx].state.Load()>>broadcastRemShift == 0
}

// notifySendLocked tells the head SendWait waiter that the oldest slot is
// free, if it is and the waiter has not been told yet. It returns the
// waiter's channel, which the caller closes after unlocking mu, or nil. The
// waiter stays queued. mu must be held.
func (c *broadcastChan[T]) notifySendLocked() chan struct{} {
	w := c.sendQ.head
	if w == nil || w.status != broadcastWaiting || !c.slotFreeLocked() {
		return nil
	}
	w.status = broadcastNotified
	return w.ready
}

// sendLocked writes v into the slot at tail, for every live receiver, and
// advances tail. It returns the number of receivers and the Recv waiters to
// wake once mu is unlocked; receivers armed by Ready get their token here.
// mu must be held and there must be at least one receiver.
func (c *broadcastChan[T]) sendLocked(v T) (int, *waiter) {
	s := &c.slots[c.tailIdx]
	for {
		old := s.state.Load()
		// Take the slot once no reader is inside a copy. Its readers to go,
		// if any, are dropped with the CAS: they lag.
		if old&broadcastBusyMask == 0 && s.state.CompareAndSwap(old, broadcastWriting) {
			break
		}
		// A reader is copying the value we overwrite (or just looked at the
		// slot and is backing off): let it finish.
		runtime.Gosched()
	}
	t := c.tail.Load()
	rx := c.rxCount.Load()
	s.pos = t
	s.val = v
	// Publish: set the readers to go and clear the writing bit in one add;
	// readers that pinned meanwhile (and are backing off) keep their pins.
	s.state.Add(uint64(rx)<<broadcastRemShift - broadcastWriting)
	c.tail.Store(t + 1)
	if c.tailIdx++; c.tailIdx == len(c.slots) {
		c.tailIdx = 0
	}
	var recv *waiter
	if !c.recvQ.empty() {
		recv = c.takeRecvLocked()
	}
	return int(rx), recv
}

// takeRecvLocked empties recvQ: it sends the token to every receiver armed by
// Ready (under mu, so that an arm never gets a token that is on its way from
// an earlier wake-up) and returns the parked Recv callers, chained through
// next, for wakeRecv. mu must be held.
func (c *broadcastChan[T]) takeRecvLocked() (wake *waiter) {
	var last *waiter
	for w := c.recvQ.takeAllChain(); w != nil; {
		next := w.next
		w.next = nil
		if w.n == broadcastArm {
			select {
			case w.ready <- struct{}{}:
			default: // cannot happen: a queued arm's channel is empty
			}
		} else {
			if last == nil {
				wake = w
			} else {
				last.next = w
			}
			last = w
		}
		w = next
	}
	return wake
}

// wakeRecv wakes the Recv callers taken by takeRecvLocked, after mu is
// unlocked.
func (c *broadcastChan[T]) wakeRecv(w *waiter) {
	if w != nil {
		wakeAll(w)
	}
}

// failSendLocked takes the SendWait waiters of the sender handle id (every
// waiter if id is 0) off the list with status wokeClosed and returns those
// whose channel is still open, chained through next, to be woken after
// unlocking mu; a waiter already told its turn had come has its channel
// closed already. mu must be held.
func (c *broadcastChan[T]) failSendLocked(id int64) (wake *waiter) {
	var last *waiter
	for w := c.sendQ.head; w != nil; {
		next := w.next
		if id == 0 || w.n == id {
			c.sendQ.remove(w)
			told := w.status == broadcastNotified
			w.status = wokeClosed
			if !told {
				if last == nil {
					wake = w
				} else {
					last.next = w
				}
				last = w
			}
		}
		w = next
	}
	c.sendQueued.Store(!c.sendQ.empty())
	return wake
}

// Subscribe returns a new receiver that receives every value sent after this
// call. A channel whose receivers were all closed works again once a new one
// subscribes. Subscribe on a closed handle returns a closed receiver. It
// panics if the channel would have more than 2^31-1 receivers.
func (s *BroadcastSender[T]) Subscribe() *BroadcastReceiver[T] {
	return s.c.subscribe(s)
}

// subscribe adds a receiver at tail, or returns a closed receiver if the
// sender handle s that asks for it (nil for Resubscribe) is closed.
func (c *broadcastChan[T]) subscribe(s *BroadcastSender[T]) *BroadcastReceiver[T] {
	r := newBroadcastReceiver(c, 0)
	c.mu.Lock()
	if s != nil && s.closed {
		c.mu.Unlock()
		r.closed = true
		return r
	}
	if c.rxCount.Load() == maxBroadcastReceivers {
		c.mu.Unlock()
		panic("gate: BroadcastSender.Subscribe: too many receivers")
	}
	r.setNext(c.tail.Load())
	c.rxCount.Add(1)
	c.mu.Unlock()
	return r
}

// ReceiverCount returns the number of open receivers.
func (s *BroadcastSender[T]) ReceiverCount() int { return int(s.c.rxCount.Load()) }

// Len returns the number of values held that some open receiver has not read
// yet: values read by every receiver, or overwritten, do not count. It is at
// most the capacity.
func (s *BroadcastSender[T]) Len() int {
	c := s.c
	c.mu.Lock()
	t := c.tail.Load()
	// The positions held are [lo, t). A reader reads them in order, so the
	// ones with readers to go are a suffix: find where it starts.
	lo, hi := t-min(t, c.capacity), t
	for lo < hi {
		h := lo + (hi-lo)/2
		if c.slots[h%c.capacity].state.Load()>>broadcastRemShift != 0 {
			hi = h
		} else {
			lo = h + 1
		}
	}
	c.mu.Unlock()
	return int(t - lo)
}

// Clone returns another sender handle on the same channel, which stays open
// for receivers until it is closed too. The clone of a closed handle is
// closed.
func (s *BroadcastSender[T]) Clone() *BroadcastSender[T] {
	c := s.c
	n := &BroadcastSender[T]{c: c}
	c.mu.Lock()
	if s.closed {
		n.closed = true
	} else {
		c.txCount++
		c.lastID++
		n.id = c.lastID
	}
	c.mu.Unlock()
	return n
}

// Close closes this sender handle. SendWait calls waiting on it return
// [ErrClosed]. When it is the last open sender handle, the channel is closed
// for its receivers: they receive what is still held for them and then
// ErrClosed. Close is idempotent.
func (s *BroadcastSender[T]) Close() {
	c := s.c
	c.mu.Lock()
	if s.closed {
		c.mu.Unlock()
		return
	}
	s.closed = true
	c.txCount--
	send := c.failSendLocked(s.id)
	var recv *waiter
	if c.txCount == 0 {
		c.closed.Store(true)
		recv = c.takeRecvLocked()
	}
	head := c.notifySendLocked() // the head may have changed
	c.mu.Unlock()
	c.wakeRecv(recv)
	if send != nil {
		wakeAll(send)
	}
	if head != nil {
		close(head)
	}
}

// WaitClosed waits until the channel has no open receiver, which may be at
// once. A later Subscribe makes the channel usable again but does not undo a
// WaitClosed that has returned.
//
// If ctx is already done it returns ctx.Err(); if ctx is done first it
// returns ctx.Err() and leaves the queue (one woken as ctx ended returns nil).
// It returns [ErrClosed] if this handle was closed before the call; a Close
// while it waits does not end it (it waits for the receivers, not for this
// handle).
func (s *BroadcastSender[T]) WaitClosed(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c := s.c
	c.mu.Lock()
	if s.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	if c.rxCount.Load() == 0 {
		c.mu.Unlock()
		return nil
	}
	c.mu.Unlock()
	w := c.closeQ.newWaiter(bg)
	c.mu.Lock()
	if s.closed || c.rxCount.Load() == 0 {
		closed := s.closed
		c.mu.Unlock()
		c.closeQ.putWaiter(w)
		if closed {
			return ErrClosed
		}
		return nil
	}
	c.closeQ.pushBack(w)
	c.mu.Unlock()
	if err := park(ctx, w); err != nil && c.withdraw(&c.closeQ, w) {
		c.mu.Unlock()
		c.closeQ.putWaiter(w)
		return err
	}
	c.closeQ.putWaiter(w)
	return nil
}

// withdraw is waitQueue.withdraw for the lists that mu guards: after a park
// that returned a ctx error, it removes w if it is still on q and returns true
// with mu held; otherwise a waker took w first: it waits for the wake-up on
// its way and returns false, mu not held.
func (c *broadcastChan[T]) withdraw(q *waitQueue, w *waiter) bool {
	c.mu.Lock()
	if w.queued {
		q.remove(w)
		return true
	}
	c.mu.Unlock()
	<-w.ready
	return false
}

// ---------------------------------------------------------------------------
// Receiving

// Results of tryFast.
const (
	broadcastGot   = iota // a value
	broadcastEmpty        // nothing sent since the cursor (closed not checked)
	broadcastSlow         // a lag, or the slot is being written: ask under mu
)

// tryFast is the lock-free receive: it returns the value at the cursor if
// the slot still holds it. A receiver that is behind (next < seen) knows a
// value is there without looking at tail.
func (r *BroadcastReceiver[T]) tryFast() (v T, res int) {
	c := r.c
	if r.next == r.seen {
		if r.seen = c.tail.Load(); r.seen == r.next {
			return v, broadcastEmpty
		}
	}
	s := &c.slots[r.idx]
	st := s.state.Add(broadcastBusyOne) // the word with our pin
	if st&broadcastWriting != 0 || s.pos != r.next {
		// Being written or overwritten: we lag (or are about to).
		s.state.Add(^uint64(broadcastBusyOne - 1))
		return v, broadcastSlow
	}
	// Pinned, and it holds our value: no sender can write it until we unpin.
	v = s.val
	if st>>broadcastRemShift == 1 {
		// We are its last reader (rem counts us): drop the value so that
		// the ring does not keep it alive.
		var zero T
		s.val = zero
	}
	rem := s.state.Add(^uint64(broadcastUnpinRead-1)) >> broadcastRemShift
	r.next++
	if r.idx++; r.idx == len(c.slots) {
		r.idx = 0
	}
	if rem == 0 && c.sendQueued.Load() {
		// We freed a slot and a SendWait waits: it may be the oldest one.
		c.notifySend()
	}
	return v, broadcastGot
}

// notifySend tells the head SendWait waiter that the oldest slot is free,
// if it is. It is outlined from tryFast, which calls it rarely.
func (c *broadcastChan[T]) notifySend() {
	c.mu.Lock()
	head := c.notifySendLocked()
	c.mu.Unlock()
	if head != nil {
		close(head)
	}
}

// recvLocked receives under mu, where no sender is writing and tail is
// exact: the value at the cursor, a *LaggedError, ErrClosed, or ErrEmpty. It
// also returns the channel of a SendWait waiter to close after unlocking, or
// nil. mu must be held.
func (r *BroadcastReceiver[T]) recvLocked() (v T, err error, head chan struct{}) {
	c := r.c
	t, n := c.tail.Load(), r.next
	r.seen = t
	if t-n > c.capacity {
		// The slots of [n, t-capacity) were overwritten.
		skipped := t - c.capacity - n
		r.setNext(t - c.capacity)
		r.seen = t
		return v, &LaggedError{Skipped: skipped}, nil
	}
	if n < t {
		// The slot holds n (it is within the last capacity positions). No
		// writer runs under mu, so there is no need to pin it.
		s := &c.slots[r.idx]
		v = s.val
		rem := s.state.Add(^uint64(broadcastRemOne-1)) >> broadcastRemShift
		if rem == 0 {
			var zero T
			s.val = zero
			if c.sendQueued.Load() {
				head = c.notifySendLocked()
			}
		}
		r.next++
		if r.idx++; r.idx == len(c.slots) {
			r.idx = 0
		}
		return v, nil, head
	}
	if c.closed.Load() {
		return v, ErrClosed, nil
	}
	return v, ErrEmpty, nil
}

// recvSlowOnce receives under mu once.
func (r *BroadcastReceiver[T]) recvSlowOnce() (T, error) {
	c := r.c
	c.mu.Lock()
	v, err, head := r.recvLocked()
	c.mu.Unlock()
	if head != nil {
		close(head)
	}
	return v, err
}

// Recv returns the next value, waiting until one is sent.
//
// A receiver that fell behind, so that values it had not read were
// overwritten, gets a [*LaggedError] whose Skipped is the number of values it
// missed, (sent - capacity) - position, where sent counts every value ever
// sent and position is the receiver's cursor; the next Recv returns the
// oldest value still held. Lagged is reported before [ErrClosed]: once every
// sender is closed, Recv still returns the lag and the values held for this
// receiver, and ErrClosed only when none is left. It returns ErrClosed too
// after the receiver's own Close.
//
// If ctx is already done Recv returns ctx.Err() without receiving, even if a
// value is there; if ctx is done while it waits it returns ctx.Err() and the
// receiver is where it was (Recv is cancel safe: no value is lost).
func (r *BroadcastReceiver[T]) Recv(ctx context.Context) (T, error) {
	if !r.closed && ctx.Err() == nil {
		if v, res := r.tryFast(); res == broadcastGot {
			return v, nil
		}
	}
	return r.recvSlow(ctx)
}

// broadcastSpins is how many times a Recv that found nothing yields before it
// parks: a sender running on another CPU usually sends within that time, and
// a park costs a channel and a wake-up. With one CPU the yields let the
// sender run. Measured on 2 CPUs (bench/results/broadcast.md): 1 sender, 4
// receivers, capacity 16, SendWait: 500 ns/op and 35 B/op with 0 spins, 100
// ns/op and 7 B/op with 2; 4 spins is no better than 2.
const broadcastSpins = 2

// recvSlow is the slow path of Recv, outlined so that the fast path can be
// inlined.
func (r *BroadcastReceiver[T]) recvSlow(ctx context.Context) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	if r.closed {
		return zero, ErrClosed
	}
	c := r.c
	for {
		v, res := r.tryFast()
		for i := 0; res == broadcastEmpty && i < broadcastSpins; i++ {
			runtime.Gosched()
			v, res = r.tryFast()
		}
		switch res {
		case broadcastGot:
			return v, nil
		case broadcastSlow:
			if v, err := r.recvSlowOnce(); err != ErrEmpty {
				return v, err
			}
		}
		// Nothing yet: park, after a last look under mu, where a Send
		// cannot slip in between the look and the queueing.
		w := c.recvQ.newWaiter(bg)
		w.n = 0
		c.mu.Lock()
		v, err, head := r.recvLocked()
		if err != ErrEmpty {
			c.mu.Unlock()
			if head != nil {
				close(head)
			}
			c.recvQ.putWaiter(w)
			return v, err
		}
		c.recvQ.pushBack(w)
		c.mu.Unlock()
		if err := park(ctx, w); err != nil {
			// A wake-up is only a hint to look again: whether or not one
			// came as ctx ended, nothing was taken.
			if c.withdraw(&c.recvQ, w) {
				c.mu.Unlock()
			}
			c.recvQ.putWaiter(w)
			return zero, err
		}
		c.recvQ.putWaiter(w)
		if err := ctx.Err(); err != nil {
			return zero, err
		}
	}
}

// TryRecv returns the next value if there is one, without waiting. It
// returns [ErrEmpty] if nothing was sent since the last value received,
// [*LaggedError] if the receiver fell behind (see Recv), and [ErrClosed] if
// every sender is closed and nothing is left for this receiver, or after the
// receiver's own Close.
func (r *BroadcastReceiver[T]) TryRecv() (T, error) {
	if r.closed {
		var zero T
		return zero, ErrClosed
	}
	v, res := r.tryFast()
	switch res {
	case broadcastGot:
		return v, nil
	case broadcastEmpty:
		// Load closed after the tail that showed nothing: with it false,
		// the channel was open and empty when tail was loaded. With it
		// true, a last value may have come in between: look under mu.
		if !r.c.closed.Load() {
			return v, ErrEmpty
		}
	}
	return r.recvSlowOnce()
}

// Resubscribe returns a new receiver on the same channel, positioned at the
// newest position: it receives the values sent after this call, not the ones
// r has still to read. On a channel whose senders are all closed the new
// receiver has nothing to receive and gets [ErrClosed]. The Resubscribe of a
// closed receiver is closed.
func (r *BroadcastReceiver[T]) Resubscribe() *BroadcastReceiver[T] {
	if r.closed {
		n := newBroadcastReceiver(r.c, 0)
		n.closed = true
		return n
	}
	return r.c.subscribe(nil)
}

// Len returns the number of values sent since the receiver's position,
// including values already overwritten: a Len above the capacity means the
// next receive reports a lag. A closed receiver has Len 0.
func (r *BroadcastReceiver[T]) Len() int {
	if r.closed {
		return 0
	}
	return int(r.c.tail.Load() - r.next)
}

// IsClosed reports whether every sender handle is closed (values may still be
// held for this receiver), or this receiver was closed.
func (r *BroadcastReceiver[T]) IsClosed() bool { return r.closed || r.c.closed.Load() }

// Close closes the receiver. The values it had not read no longer wait for
// it: a SendWait waiting for it to read the oldest value goes on. When it is
// the last open receiver, Send and SendWait return [ErrClosed] until a new
// receiver subscribes, and WaitClosed returns. Close is idempotent.
func (r *BroadcastReceiver[T]) Close() {
	if r.closed {
		return
	}
	r.closed = true
	c := r.c
	c.mu.Lock()
	if r.arm.queued {
		c.recvQ.remove(&r.arm)
	}
	// Count ourselves off every value held that we had not read: those in
	// [max(next, t-capacity), t), all sent while we were subscribed.
	t := c.tail.Load()
	n := max(r.next, t-min(t, c.capacity))
	for i := n % c.capacity; n < t; n++ {
		s := &c.slots[i]
		if s.state.Add(^uint64(broadcastRemOne-1))>>broadcastRemShift == 0 {
			var zero T
			s.val = zero
		}
		if i++; i == c.capacity {
			i = 0
		}
	}
	var send, closeWait *waiter
	var head chan struct{}
	if c.rxCount.Add(-1) == 0 {
		send = c.failSendLocked(0) // no receiver left to send to
		closeWait = c.closeQ.takeAllChain()
	} else {
		head = c.notifySendLocked()
	}
	c.mu.Unlock()
	if send != nil {
		wakeAll(send)
	}
	if closeWait != nil {
		wakeAll(closeWait)
	}
	if head != nil {
		close(head)
	}
}

// Ready returns a channel that becomes receivable once TryRecv would return
// something other than [ErrEmpty]: a value, a lag, or ErrClosed. With
// something there already it is receivable at once. Use it to wait for the
// receiver in a select beside other channels:
//
//	for {
//		select {
//		case <-rx.Ready():
//			v, err := rx.TryRecv()
//			...
//		case <-ticker.C:
//			...
//		}
//	}
//
// Receive from the returned channel at most once, then call TryRecv; call
// Ready again before each select. Nothing is invented (after a receive from
// it, TryRecv does not return ErrEmpty, as long as nothing was received
// between Ready and the receive from its channel) and nothing is lost
// (whatever is sent after Ready makes it receivable). Ready allocates
// nothing: the channel it returns while nothing is there is the receiver's
// own, made with the receiver, so in a testing/synctest bubble use a receiver
// made in that bubble (one made outside any bubble works, but a goroutine
// waiting on its Ready does not count as durably blocked), and close a
// receiver armed in a bubble before the bubble ends (a send from outside
// would wake a channel of the bubble, which the runtime forbids).
func (r *BroadcastReceiver[T]) Ready() <-chan struct{} {
	if r.closed || r.c.closed.Load() || r.c.tail.Load() != r.next {
		return closedChan
	}
	return r.readySlow()
}

// readySlow arms the receiver under mu, where no Send can come in between
// the last look and the arming.
func (r *BroadcastReceiver[T]) readySlow() <-chan struct{} {
	c := r.c
	c.mu.Lock()
	if c.closed.Load() || c.tail.Load() != r.next {
		c.mu.Unlock()
		return closedChan
	}
	if !r.arm.queued {
		// Drop a token left from an earlier wake-up that was not received
		// (the select took another case), so that it is not mistaken for
		// this one. Tokens are sent only under mu: none is on its way.
		select {
		case <-r.arm.ready:
		default:
		}
		c.recvQ.pushBack(&r.arm)
	}
	c.mu.Unlock()
	return r.arm.ready
}

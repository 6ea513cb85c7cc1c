package gate

import (
	"context"
	"iter"
	"runtime"
	"sync/atomic"
)

// This file is the broadcast channel: one ring of exactly capacity slots
// shared by every handle, a send position (tail), and a cursor per receiver,
// after tokio's broadcast.rs (tokio/src/sync/broadcast.rs) but with the
// capacity the user asked for instead of the next power of two.
//
// Senders serialize on the mutex of the receivers' wait queue (mu), which
// guards writing into the ring and orders the changes of the receiver count
// with the sends. A
// receiver reads without any lock: it pins the slot that holds its next
// value, claims the value by moving its cursor on with a CAS, copies the
// value and unpins it while counting itself off the slot's reader count. It
// takes mu only to find out how far it lagged, when a sender is writing the
// slot it wants, or to close.
//
// Every wait is the core's (sync.go): Recv waits on recvQ with waitFor, Ready
// is a readiness on recvQ, WaitClosed is handles.waitClosed, and SendWait
// takes its turn in a one-permit sem (FIFO, cancellable), then waits on slotQ
// with waitFor until the oldest slot has no reader left.

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
// readers pinning (busy) counts receivers inside their look at the slot. A
// writer takes the slot only when busy is 0, by setting the writing bit in a
// CAS, and gives it back with an add that sets rem and clears the bit. A
// reader pins with one add; if the word it got back has the writing bit set,
// the slot is being written: it unpins with another add and takes the slow
// path. Both sides only add to busy, never store it, so the transient pins of
// readers that back off are never lost.
//
// Why not a lock per slot, as tokio has: the common case, a reader that is
// not lagging, needs only these two adds on the slot it reads (and a CAS on
// its own cursor), and a sender one CAS and one add on the slot it writes;
// readers never touch each other's state and never block a sender except
// during a copy. A seqlock (copy, then check a version) would be cheaper
// still but is a data race on val, which for a T with pointers is not memory
// safe.
const (
	broadcastWriting   = 1                                  // a sender is writing pos and val
	broadcastBusyOne   = 1 << 1                             // one reader pinning
	broadcastBusyMask  = (1<<31 - 1) << 1                   // readers pinning
	broadcastRemShift  = 32                                 // shift of the readers-to-go field
	broadcastRemOne    = 1 << broadcastRemShift             // one reader to go
	broadcastUnpinRead = broadcastBusyOne + broadcastRemOne // a reader done: unpin and count itself off
)

// Cursor word of a BroadcastReceiver: next<<1 | frozen.
//
// next is the position of the receiver's next value. Only the receiver's
// goroutine moves it, always with a CAS, and it moves it before it counts
// itself off the slot it claims. Close, which any goroutine may call, sets
// frozen (atomic Or) and counts the receiver off every slot from the next it
// read in the same step: a CAS that fails on the frozen bit leaves its slot to
// Close, one that succeeded counts itself off its slot. So every slot is
// counted off exactly once, whichever goroutine closes the receiver and
// whatever it is doing then. (A plain cursor that Close reads would be a data
// race, and a Close racing a read could count a slot off twice.)
const broadcastFrozen = 1

// A broadcastSlot holds one value of the ring.
type broadcastSlot[T any] struct {
	state atomic.Uint64 // see the bit map above
	// pos is the absolute position of the value held (the tail at its Send).
	// pos and val are written only by a sender holding mu and the writing
	// bit, and read by receivers that pinned the slot or hold mu; val is
	// also cleared by its last reader.
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

	// recvQ holds the Recv callers and armed Ready, woken by every send and
	// the last sender's Close. Its mu, called mu in this file, also
	// serializes the senders and is held while the handle counts change: a
	// send publishes its value and takes the waiters in one critical
	// section, so that a receiver that takes the value and then arms Ready
	// finds the wake-up gone, not on its way (a token with nothing there),
	// and a receiver that subscribes after a send is not woken by it.
	recvQ   waitQueue
	tailIdx int // tail % capacity; guarded by mu

	hs    handles   // open senders and receivers (changed under mu), WaitClosed callers
	turn  sem       // SendWait's line: one permit (bias 1), held while a SendWait waits for the slot
	slotQ waitQueue // the SendWait holding the turn, until the oldest slot has no reader to go
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
	_ noCopy
	c *broadcastChan[T]
	h handle // its waiters on turn, slotQ and hs.q carry it as owner
}

// A BroadcastReceiver is the receiving half of a broadcast channel. It
// receives, in order, every value sent after it subscribed, unless it falls
// more than the capacity behind: then it gets a [*LaggedError] saying how
// many values it missed and goes on with the oldest value still held.
//
// A BroadcastReceiver is used by one goroutine at a time, except Close and
// IsClosed, which any goroutine may call at any time;
// [BroadcastReceiver.Resubscribe] and [BroadcastSender.Subscribe] give other
// goroutines receivers of their own. It must not be copied after first use
// (handles are pointers). Close it when it is no longer needed: an open
// receiver counts as a reader of every value sent, which SendWait waits for.
//
// In the terminology of the Go memory model, a Send or SendWait synchronizes
// before each receive that returns the value it sent.
type BroadcastReceiver[T any] struct {
	_   noCopy
	c   *broadcastChan[T]
	h   handle        // Close sets it; its Recv and its armed Ready carry it as owner
	cur atomic.Uint64 // next<<1 | frozen, see above
	// idx (next % capacity) and seen (a tail observed earlier: while next <
	// seen, a value or a lag is there) belong to the receiver's goroutine.
	idx  int
	seen uint64
	rd   readiness // behind Ready; its waiter's owner is &h
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
	c := &broadcastChan[T]{slots: make([]broadcastSlot[T], capacity), capacity: uint64(capacity)}
	c.hs.add(senders)
	c.hs.add(receivers)
	return &BroadcastSender[T]{c: c}, newBroadcastReceiver(c)
}

// newBroadcastReceiver returns an open receiver of c at position 0; the
// caller moves it (setNext) and counts it in before it is shared.
func newBroadcastReceiver[T any](c *broadcastChan[T]) *BroadcastReceiver[T] {
	r := &BroadcastReceiver[T]{c: c}
	r.rd.w.owner = &r.h // so that Close wakes an armed Ready (closeWaiters)
	return r
}

// setNext moves an unshared receiver's cursor to pos.
func (r *BroadcastReceiver[T]) setNext(pos uint64) {
	r.cur.Store(pos << 1)
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
// this handle is closed. A return of n > 0 does not mean that any receiver
// will read v: a receiver may close first, or lag past it.
func (s *BroadcastSender[T]) Send(v T) (int, error) {
	c := s.c
	c.recvQ.mu.Lock()
	if s.h.closed.Load() || c.hs.gone(receivers) {
		c.recvQ.mu.Unlock()
		return 0, ErrClosed
	}
	var l wakeList
	n := c.sendLocked(v, &l)
	c.recvQ.mu.Unlock()
	l.wake()
	// The slot after the one overwritten may have no reader to go (its
	// readers may all have subscribed later): a SendWait may go.
	c.slotQ.notify()
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
	c.recvQ.mu.Lock()
	if s.h.closed.Load() || c.hs.gone(receivers) {
		c.recvQ.mu.Unlock()
		return 0, ErrClosed
	}
	// Nobody holds the turn or waits for it, and the oldest slot is free:
	// send without taking the turn (a SendWait that takes it meanwhile
	// started at the same time and may go second).
	if c.turn.available(1) != 0 && c.slotFreeLocked() {
		var l wakeList
		n := c.sendLocked(v, &l)
		c.recvQ.mu.Unlock()
		l.wake()
		return n, nil
	}
	c.recvQ.mu.Unlock()
	return s.sendWaitSlow(ctx, v)
}

// sendWaitSlow is the slow path of SendWait: it waits for the turn (FIFO,
// ended by ctx or this handle's Close), then, holding it, for the oldest slot
// to have no reader to go, and sends.
func (s *BroadcastSender[T]) sendWaitSlow(ctx context.Context, v T) (int, error) {
	c := s.c
	if err := c.turn.acquireSlowSpin(ctx, &s.h, 1, 1, 0); err != nil {
		return 0, err
	}
	var n int
	var err error
	var l wakeList
	for {
		c.recvQ.mu.Lock()
		if s.h.closed.Load() || c.hs.gone(receivers) {
			err = ErrClosed
		} else if c.slotFreeLocked() {
			n = c.sendLocked(v, &l)
		} else {
			// A plain Send may have taken the slot we were woken for: wait for
			// the next one, keeping the turn.
			c.recvQ.mu.Unlock()
			err = c.slotQ.waitFor(ctx, &s.h, c.slotFree)
			if err == ErrClosed && !s.h.closed.Load() {
				// waitFor found slotFree true under its lock but false when it
				// looked again (see the report on waitFor): not a close.
				err = nil
			}
			if err != nil {
				break
			}
			continue
		}
		c.recvQ.mu.Unlock()
		break
	}
	c.turn.release(1, 1, 1, "gate: BroadcastSender.SendWait: turn released twice")
	l.wake()
	return n, err
}

// slotFreeLocked reports whether the slot at tail, which the next send
// overwrites, has no reader left to read it (or was never written). mu must
// be held.
func (c *broadcastChan[T]) slotFreeLocked() bool {
	return c.slots[c.tailIdx].state.Load()>>broadcastRemShift == 0
}

// slotFree is the condition of the SendWait holding the turn, without mu: the
// oldest slot looks free, or no receiver is left. It is a hint, checked again
// under mu. Its wakers (a reader that counts itself off to rem 0, a receiver's
// Close, a Send) change the slot's word, the receiver count or tail before
// they call slotQ.notify.
func (c *broadcastChan[T]) slotFree() bool {
	return c.hs.gone(receivers) || c.slots[c.tail.Load()%c.capacity].state.Load()>>broadcastRemShift == 0
}

// sendLocked writes v into the slot at tail, for every live receiver, and
// advances tail. It returns the number of receivers, and takes the waiters
// of recvQ into l, which the caller wakes after unlocking mu. mu must be held
// and there must be at least one receiver.
func (c *broadcastChan[T]) sendLocked(v T, l *wakeList) int {
	s := &c.slots[c.tailIdx]
	for {
		old := s.state.Load()
		// Take the slot once no reader is inside a look. Its readers to go,
		// if any, are dropped with the CAS: they lag.
		if old&broadcastBusyMask == 0 && s.state.CompareAndSwap(old, broadcastWriting) {
			break
		}
		// A reader is copying the value we overwrite (or just looked at the
		// slot and is backing off): let it finish.
		runtime.Gosched()
	}
	t := c.tail.Load()
	rx := c.hs.open[receivers].Load()
	s.pos = t
	s.val = v
	// Publish: set the readers to go and clear the writing bit in one add;
	// readers that pinned meanwhile (and are backing off) keep their pins.
	s.state.Add(uint64(rx)<<broadcastRemShift - broadcastWriting)
	c.tail.Store(t + 1)
	if c.tailIdx++; c.tailIdx == len(c.slots) {
		c.tailIdx = 0
	}
	// Take the receivers that wait (recvQ.notify, under the mu we hold):
	// armed Ready get their token now, parked Recv calls are woken after
	// unlocking.
	if !c.recvQ.empty() {
		c.recvQ.takeAll(l, wokeGranted)
	}
	return int(rx)
}

// Subscribe returns a new receiver that receives every value sent after this
// call. A channel whose receivers were all closed works again once a new one
// subscribes. Subscribe on a closed handle returns a closed receiver. It
// panics if the channel would have more than 2^31-1 receivers.
func (s *BroadcastSender[T]) Subscribe() *BroadcastReceiver[T] {
	return s.c.subscribe(&s.h)
}

// subscribe adds a receiver at tail, or returns a closed receiver if the
// handle h that asks for it is closed.
func (c *broadcastChan[T]) subscribe(h *handle) *BroadcastReceiver[T] {
	r := newBroadcastReceiver(c)
	c.recvQ.mu.Lock()
	if h.closed.Load() {
		c.recvQ.mu.Unlock()
		r.h.close()
		r.cur.Store(broadcastFrozen)
		return r
	}
	if c.hs.open[receivers].Load() == maxBroadcastReceivers {
		c.recvQ.mu.Unlock()
		panic("gate: BroadcastSender.Subscribe: too many receivers")
	}
	r.setNext(c.tail.Load())
	c.hs.add(receivers)
	c.recvQ.mu.Unlock()
	return r
}

// ReceiverCount returns the number of open receivers.
func (s *BroadcastSender[T]) ReceiverCount() int { return int(s.c.hs.open[receivers].Load()) }

// Len returns the number of values held that some open receiver has not read
// yet: values read by every receiver, or overwritten, do not count. It is at
// most the capacity, and still answers on a closed handle.
func (s *BroadcastSender[T]) Len() int {
	c := s.c
	c.recvQ.mu.Lock()
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
	c.recvQ.mu.Unlock()
	return int(t - lo)
}

// Clone returns another sender handle on the same channel, which keeps the
// channel open for receivers until it is closed too. The clone of a closed
// handle is closed.
func (s *BroadcastSender[T]) Clone() *BroadcastSender[T] {
	c := s.c
	n := &BroadcastSender[T]{c: c}
	// Under mu, so that the count cannot go from 0 back to 1: Close sets the
	// flag before it counts the handle out under mu.
	c.recvQ.mu.Lock()
	if s.h.closed.Load() {
		n.h.close()
	} else {
		c.hs.add(senders)
	}
	c.recvQ.mu.Unlock()
	return n
}

// Close closes this sender handle. Its SendWait and WaitClosed calls in
// flight return [ErrClosed], and so does every later call on it. When it is
// the last open sender handle, the channel is closed for its receivers: they
// receive what is still held for them and then ErrClosed. Close is
// idempotent.
func (s *BroadcastSender[T]) Close() {
	if !s.h.close() {
		return
	}
	c := s.c
	c.turn.closeWaiters(&s.h, 1)
	c.slotQ.closeWaiters(&s.h)
	c.hs.q.closeWaiters(&s.h)
	// Counted out under mu: a Send on this handle either finished before or
	// sees the flag, so once every sender is counted out nothing more is
	// sent, and a receiver that sees the count at 0 sees the final tail.
	c.recvQ.mu.Lock()
	last := c.hs.done(senders)
	c.recvQ.mu.Unlock()
	if last {
		c.recvQ.notify()
	}
}

// IsClosed reports whether this handle is closed or no receiver is left (a
// later Subscribe makes the channel usable again).
func (s *BroadcastSender[T]) IsClosed() bool { return s.c.hs.isClosed(&s.h, receivers) }

// WaitClosed waits until the channel has no open receiver, which may be at
// once. A later Subscribe makes the channel usable again but does not undo a
// WaitClosed that has returned.
//
// If ctx is already done it returns ctx.Err(); if ctx is done first it
// returns ctx.Err() and leaves the queue. It returns [ErrClosed] if this
// handle is closed, before the call or while it waits.
func (s *BroadcastSender[T]) WaitClosed(ctx context.Context) error {
	err := s.c.hs.waitClosed(ctx, &s.h, receivers)
	if err == ErrClosed && !s.h.closed.Load() {
		// The last receiver closed, then one subscribed while waitFor
		// looked again (see SendWait): it did return for the close.
		return nil
	}
	return err
}

// ---------------------------------------------------------------------------
// Receiving

// Results of tryFast.
const (
	broadcastGot    = iota // a value
	broadcastEmpty         // nothing sent since the cursor (closed not checked)
	broadcastSlow          // a lag, or the slot is being written: ask under mu
	broadcastClosed        // the receiver was closed (its cursor is frozen)
)

// tryFast is the lock-free receive: it returns the value at the cursor if
// the slot still holds it. A receiver that is behind (next < seen) knows a
// value is there without looking at tail.
func (r *BroadcastReceiver[T]) tryFast() (v T, res int) {
	c := r.c
	cur := r.cur.Load()
	n := cur >> 1
	if n == r.seen {
		if r.seen = c.tail.Load(); r.seen == n {
			return v, broadcastEmpty
		}
	}
	s := &c.slots[r.idx]
	st := s.state.Add(broadcastBusyOne) // the word with our pin
	if st&broadcastWriting != 0 || s.pos != n {
		// Being written or overwritten: we lag (or are about to).
		s.state.Add(^uint64(broadcastBusyOne - 1))
		return v, broadcastSlow
	}
	// Pinned, and it holds our value: no sender can write it until we unpin.
	// Claim it before the copy: if Close froze the cursor, the slot is
	// Close's to count off (and to clear), and we must not touch val.
	if !r.cur.CompareAndSwap(cur, cur+2) {
		s.state.Add(^uint64(broadcastBusyOne - 1))
		return v, broadcastClosed
	}
	v = s.val
	if st>>broadcastRemShift == 1 {
		// We are its last reader (rem counts us): drop the value so that
		// the ring does not keep it alive.
		var zero T
		s.val = zero
	}
	rem := s.state.Add(^uint64(broadcastUnpinRead-1)) >> broadcastRemShift
	if r.idx++; r.idx == len(c.slots) {
		r.idx = 0
	}
	if rem == 0 {
		c.slotQ.notify() // it may be the oldest slot, which a SendWait waits for
	}
	return v, broadcastGot
}

// recvLocked receives under mu, where no sender is writing and tail is
// exact: the value at the cursor, a *LaggedError, ErrClosed, or ErrEmpty. mu
// must be held.
func (r *BroadcastReceiver[T]) recvLocked() (v T, err error) {
	c := r.c
	cur, t := r.cur.Load(), c.tail.Load()
	n := cur >> 1
	r.seen = t
	switch {
	case t-n > c.capacity:
		// The slots of [n, t-capacity) were overwritten.
		if !r.cur.CompareAndSwap(cur, (t-c.capacity)<<1) {
			return v, ErrClosed
		}
		r.idx = int((t - c.capacity) % c.capacity)
		return v, &LaggedError{Skipped: t - c.capacity - n}
	case n < t:
		// The slot holds n (it is within the last capacity positions). No
		// writer runs under mu, so there is no need to pin it.
		if !r.cur.CompareAndSwap(cur, cur+2) {
			return v, ErrClosed
		}
		s := &c.slots[r.idx]
		v = s.val
		if s.state.Add(^uint64(broadcastRemOne-1))>>broadcastRemShift == 0 {
			var zero T
			s.val = zero
			c.slotQ.notify()
		}
		if r.idx++; r.idx == len(c.slots) {
			r.idx = 0
		}
		return v, nil
	case cur&broadcastFrozen != 0 || c.hs.gone(senders):
		return v, ErrClosed
	}
	return v, ErrEmpty
}

// tryRecv is TryRecv.
func (r *BroadcastReceiver[T]) tryRecv() (T, error) {
	if r.h.closed.Load() {
		var zero T
		return zero, ErrClosed
	}
	v, res := r.tryFast()
	switch res {
	case broadcastGot:
		return v, nil
	case broadcastClosed:
		return v, ErrClosed
	case broadcastEmpty:
		// The sender count is loaded after the tail that showed nothing:
		// with senders left, the channel was open and empty then. With none,
		// a last value may have come in between: look under mu.
		if !r.c.hs.gone(senders) {
			return v, ErrEmpty
		}
	}
	r.c.recvQ.mu.Lock()
	v, err := r.recvLocked()
	r.c.recvQ.mu.Unlock()
	return v, err
}

// has is the receiver's TryRecv condition: something other than ErrEmpty.
// It is called by the receiver's goroutine (Recv, Ready).
func (r *BroadcastReceiver[T]) has() bool {
	return r.h.closed.Load() || r.c.tail.Load() != r.cur.Load()>>1 || r.c.hs.gone(senders)
}

// Recv returns the next value, waiting until one is sent.
//
// A receiver that fell behind, so that values it had not read were
// overwritten, gets a [*LaggedError] whose Skipped is the number of values it
// missed, (sent - capacity) - position, where sent counts every value ever
// sent and position is the receiver's cursor; the next Recv returns the
// oldest value still held. Lagged is reported before [ErrClosed]: once every
// sender is closed, Recv still returns the lag and the values held for this
// receiver, and ErrClosed only when none is left. It returns ErrClosed on a
// closed receiver, and a Close of the receiver (from any goroutine) ends a
// Recv that waits with ErrClosed.
//
// If ctx is already done Recv returns ctx.Err() without receiving, even if a
// value is there; if ctx is done while it waits it returns ctx.Err() and the
// receiver is where it was (Recv is cancel safe: no value is lost).
func (r *BroadcastReceiver[T]) Recv(ctx context.Context) (T, error) {
	if ctx.Err() == nil && !r.h.closed.Load() {
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

// recvSlow is the slow path of Recv: a done ctx first, then TryRecv until it
// has something, waiting on recvQ in between.
func (r *BroadcastReceiver[T]) recvSlow(ctx context.Context) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	for {
		v, err := r.tryRecv()
		for i := 0; err == ErrEmpty && i < broadcastSpins; i++ {
			runtime.Gosched()
			v, err = r.tryRecv()
		}
		if err != ErrEmpty {
			return v, err
		}
		// A wake-up is a hint to look again; nothing is taken while waiting.
		if err := r.c.recvQ.waitFor(ctx, &r.h, r.has); err != nil {
			return zero, err
		}
	}
}

// TryRecv returns the next value if there is one, without waiting. It
// returns [ErrEmpty] if nothing was sent since the last value received,
// [*LaggedError] if the receiver fell behind (see Recv), and [ErrClosed] if
// every sender is closed and nothing is left for this receiver, or on a
// closed receiver.
func (r *BroadcastReceiver[T]) TryRecv() (T, error) { return r.tryRecv() }

// All returns an iterator over the values received: each with a nil error;
// a lag is yielded once as (zero, *LaggedError) and the loop goes on with the
// oldest value still held. It ends when every sender is closed and nothing
// is left, when the receiver is closed, or when ctx is done (check ctx.Err()
// after the loop). Breaking out of the loop leaves the receiver open, at the
// value after the last one yielded.
func (r *BroadcastReceiver[T]) All(ctx context.Context) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for {
			v, err := r.Recv(ctx)
			if _, lag := err.(*LaggedError); err != nil && !lag {
				return
			}
			if !yield(v, err) {
				return
			}
		}
	}
}

// Resubscribe returns a new receiver on the same channel, positioned at the
// newest position: it receives the values sent after this call, not the ones
// r has still to read. On a channel whose senders are all closed the new
// receiver has nothing to receive and gets [ErrClosed]. The Resubscribe of a
// closed receiver is closed.
func (r *BroadcastReceiver[T]) Resubscribe() *BroadcastReceiver[T] { return r.c.subscribe(&r.h) }

// Len returns the number of values this receiver can still get: those sent
// since its position, but never more than the capacity (the channel holds
// no more; when values were overwritten the next receive reports the lag).
// A closed receiver has Len 0.
func (r *BroadcastReceiver[T]) Len() int {
	if r.h.closed.Load() {
		return 0
	}
	n := r.cur.Load() >> 1 // before tail, which only grows
	return int(min(r.c.tail.Load()-n, r.c.capacity))
}

// IsClosed reports whether this receiver is closed or every sender handle is
// (values may still be held for this receiver then). Any goroutine may call
// it.
func (r *BroadcastReceiver[T]) IsClosed() bool { return r.c.hs.isClosed(&r.h, senders) }

// Close closes the receiver; any goroutine may call it. A Recv waiting on it
// returns [ErrClosed], its armed Ready becomes receivable, and every later
// call on it returns ErrClosed. The values it had not read no longer wait
// for it: a SendWait waiting for it to read the oldest value goes on. When
// it is the last open receiver, Send and SendWait return ErrClosed until a
// new receiver subscribes, and WaitClosed returns. Close is idempotent.
func (r *BroadcastReceiver[T]) Close() {
	if !r.h.close() {
		return
	}
	c := r.c
	c.recvQ.mu.Lock()
	// Freeze the cursor (see broadcastFrozen), then count ourselves off
	// every value held that we had not read: those in [max(next,
	// t-capacity), t), all sent while we were subscribed. Under mu no sender
	// overwrites them meanwhile.
	n := r.cur.Or(broadcastFrozen) >> 1
	t := c.tail.Load()
	n = max(n, t-min(t, c.capacity))
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
	c.hs.done(receivers) // wakes WaitClosed if we were the last
	c.recvQ.mu.Unlock()
	c.recvQ.closeWaiters(&r.h) // its Recv, and its Ready (a token)
	c.slotQ.notify()           // a slot freed, or no receiver left: SendWait goes on
}

// Ready returns a channel that becomes receivable once TryRecv would return
// something other than [ErrEmpty]: a value, a lag, or ErrClosed (every
// sender closed, or this receiver closed, from any goroutine). With
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
// nothing after its first call, which makes the channel it returns while
// nothing is there and keeps it with the receiver: in a testing/synctest
// bubble, call Ready first inside the bubble, and close a receiver armed in
// a bubble before the bubble ends (see doc.go).
func (r *BroadcastReceiver[T]) Ready() <-chan struct{} { return r.rd.arm(&r.c.recvQ, r.has) }

package gate

import (
	"context"
	"iter"
	"runtime"
	"sync/atomic"
)

// This file is the broadcast channel, after tokio's broadcast.rs
// (tokio/src/sync/broadcast.rs) but with exactly the capacity asked for: one
// ring of capacity slots, a send position (tail), and a cursor per receiver.
//
// Senders serialize on the mutex of the receivers' wait queue (mu), which
// guards writing into the ring and orders the changes of the handle counts
// with the sends. A receiver reads without a lock: it pins the slot of its
// next value, claims the value by moving its cursor on with a CAS, copies it
// and unpins while counting itself off the slot's readers. It takes mu only
// to find out how far it lagged, when a sender writes the slot it wants, or
// to close. Every wait is the core's (sync.go): Recv waits on recvQ with
// waitFor, Ready is a readiness on recvQ, WaitClosed is handles.waitClosed,
// and SendWait takes its turn in a one-permit sem (FIFO, cancellable), then
// waits on slotQ with waitFor until the oldest slot has no reader to go.

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
// readers to go (rem): the receivers subscribed when the value was sent that
// have not read it (nor closed) yet. The sender sets it; it only decreases
// until the slot is written again. A plain Send overwrites a slot whatever
// its rem (those readers lag); SendWait waits for rem == 0 on the slot it is
// about to overwrite, the oldest.
//
// readers pinning (busy): receivers inside their look at the slot. A writer
// takes the slot only when busy is 0, setting the writing bit in a CAS, and
// gives it back with an add that sets rem and clears the bit. A reader pins
// with one add; if the word it got back has the writing bit set, it unpins
// with another add and takes the slow path. Both sides only add to busy, so
// the transient pins of readers that back off are never lost.
//
// Why not a lock per slot, as tokio has: a reader that is not lagging needs
// only these two adds (and a CAS on its own cursor), a sender one CAS and one
// add; readers never touch each other's state and block a sender only during
// a copy. A seqlock would be cheaper still but is a data race on val, which
// for a T with pointers is not memory safe.
const (
	broadcastWriting   = 1                                  // a sender is writing pos and val
	broadcastBusyOne   = 1 << 1                             // one reader pinning
	broadcastBusyMask  = (1<<31 - 1) << 1                   // readers pinning
	broadcastRemShift  = 32                                 // shift of the readers-to-go field
	broadcastRemOne    = 1 << broadcastRemShift             // one reader to go
	broadcastUnpinRead = broadcastBusyOne + broadcastRemOne // a reader done: unpin and count itself off
)

// Cursor word of a BroadcastReceiver: next<<1 | frozen. next, the position
// of its next value, is moved only by the receiver's goroutine, with a CAS,
// before it counts itself off the slot it claims. Close, from any goroutine,
// sets frozen (atomic Or) and counts the receiver off every slot from the
// next it got back: a CAS that fails on the bit leaves its slot to Close. So
// every slot is counted off once, whatever the receiver is doing. (Close
// reading a plain cursor would be a data race and could count a slot twice.)
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
	// the last sender's Close. Its mu ("mu" in this file) also serializes the
	// senders: a send publishes its value and takes the waiters in one
	// critical section, so a receiver that takes the value and then arms
	// Ready, or subscribes, gets no late wake-up (a token with nothing there).
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
// [BroadcastSender.Clone] makes another handle. The channel is closed for its
// receivers once every sender handle is closed. It must not be copied after
// first use (handles are pointers).
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
	// stats counts this receiver's Recv waits (h.stats points here).
	stats waitStats
}

// Broadcast returns the two halves of a broadcast channel that holds exactly
// capacity values. Every receiver sees every value sent after it subscribed;
// a receiver more than capacity values behind loses the oldest ones (see
// [BroadcastReceiver.Recv]). The ring of capacity slots is allocated here;
// unlike tokio's, the capacity is not rounded up to a power of two.
// Broadcast panics if capacity is less than 1 or more than MaxPermits.
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
// caller moves it and counts it in before it is shared.
func newBroadcastReceiver[T any](c *broadcastChan[T]) *BroadcastReceiver[T] {
	r := &BroadcastReceiver[T]{c: c}
	r.rd.w.owner = &r.h // so that Close wakes an armed Ready (closeWaiters)
	r.h.stats = &r.stats
	return r
}

// Send sends v to every receiver subscribed now and returns how many there
// are. It never waits for a receiver (nor behind SendWait callers): when the
// ring is full it overwrites the oldest value, and receivers that had not
// read it get a [*LaggedError]. (It may yield while a receiver copies the
// slot it is about to write.) It returns [ErrClosed], v not stored, if there
// is no receiver or this handle is closed. A return of n > 0 does not mean
// that any receiver will read v: a receiver may close first, or lag past it.
func (s *BroadcastSender[T]) Send(v T) (int, error) {
	n, err, _ := s.send(v, false)
	if err == nil {
		// The slot after the one overwritten may have no reader to go (its
		// readers may all have subscribed later): a SendWait may go.
		s.c.slotQ.notify()
	}
	return n, err
}

// send sends v under mu, unless this handle is closed or no receiver is left
// (ErrClosed) or, for a SendWait (wait), the oldest slot has a reader to go
// (done false: nothing sent). It wakes the receivers after unlocking.
func (s *BroadcastSender[T]) send(v T, wait bool) (n int, err error, done bool) {
	c := s.c
	var l wakeList
	c.recvQ.mu.Lock()
	switch {
	case s.h.closed.Load() || c.hs.gone(receivers):
		err = ErrClosed
	case wait && c.slots[c.tailIdx].state.Load()>>broadcastRemShift != 0:
		// The slot the send would overwrite, the oldest, has readers to go.
		c.recvQ.mu.Unlock()
		return 0, nil, false
	default:
		n = c.sendLocked(v, &l)
	}
	c.recvQ.mu.Unlock()
	l.wake()
	return n, err, true
}

// SendWait sends v to every receiver subscribed now and returns how many
// there are, waiting first, if the ring is full, until every live receiver
// has read the oldest value, so that no receiver loses a value to this send.
// SendWait callers are served in the order they started waiting (FIFO); a
// plain Send does not wait behind them and may take the slot a waiter was
// waiting for, which then waits for the next one.
//
// If ctx is already done, SendWait returns ctx.Err() without sending, even if
// there is room; if ctx is done before v is sent, ctx.Err(), v not stored,
// out of the queue. It returns [ErrClosed], v not stored, if there is no
// receiver (when called, or once the last one closes) or this handle is
// closed (before or while it waits). A receiver that never reads and is
// never closed blocks SendWait forever: that is the backpressure asked for.
func (s *BroadcastSender[T]) SendWait(ctx context.Context, v T) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if s.IsClosed() {
		return 0, ErrClosed
	}
	// Nobody holds the turn or waits for it: send at once if the oldest slot
	// is free (a SendWait that takes the turn meanwhile started at the same
	// time and may go second).
	if s.c.turn.available(1) != 0 {
		if n, err, done := s.send(v, true); done {
			return n, err
		}
	}
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
	for done := false; !done && err == nil; {
		if n, err, done = s.send(v, true); !done {
			// Not free (a plain Send may have taken the slot we were woken
			// for): wait for the next, keeping the turn.
			err = c.slotQ.waitFor(ctx, &s.h, c.slotFree)
		}
	}
	c.turn.release(1, 1, 1, "gate: BroadcastSender.SendWait: turn released twice")
	return n, err
}

// slotFree is the condition of the SendWait holding the turn: the oldest
// slot looks free, or no receiver is left (a hint; send checks under mu). Its
// wakers (a reader that counts itself off to rem 0, a receiver's Close, a
// Send) change the slot, the receiver count or tail, then call slotQ.notify.
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
func (s *BroadcastSender[T]) Subscribe() *BroadcastReceiver[T] { return s.c.subscribe(&s.h) }

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
	r.seen = c.tail.Load()
	r.cur.Store(r.seen << 1)
	r.idx = int(r.seen % c.capacity)
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

// Clone returns another sender handle on the same channel, which keeps it
// open for receivers until it is closed too. A closed handle's clone is closed.
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
	return s.c.hs.waitClosed(ctx, &s.h, receivers)
}

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
		s.val = *new(T)
	}
	rem := s.state.Add(^uint64(broadcastUnpinRead-1)) >> broadcastRemShift
	r.step()
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
		if c.countOff(s) {
			c.slotQ.notify()
		}
		r.step()
		return v, nil
	case cur&broadcastFrozen != 0 || c.hs.gone(senders):
		return v, ErrClosed
	}
	return v, ErrEmpty
}

// step moves the receiver's slot index to the next slot, after its cursor.
func (r *BroadcastReceiver[T]) step() {
	if r.idx++; r.idx == len(r.c.slots) {
		r.idx = 0
	}
}

// countOff counts one reader off s, which must count it, and reports whether
// none is left; then it drops the value. mu must be held (no writer runs).
func (c *broadcastChan[T]) countOff(s *broadcastSlot[T]) bool {
	if s.state.Add(^uint64(broadcastRemOne-1))>>broadcastRemShift != 0 {
		return false
	}
	s.val = *new(T)
	return true
}

// TryRecv returns the next value if there is one, without waiting. It
// returns [ErrEmpty] if nothing was sent since the last value received,
// [*LaggedError] if the receiver fell behind (see Recv), and [ErrClosed] if
// every sender is closed and nothing is left for this receiver, or on a
// closed receiver.
func (r *BroadcastReceiver[T]) TryRecv() (T, error) {
	if r.h.closed.Load() {
		return *new(T), ErrClosed
	}
	v, res := r.tryFast()
	switch res {
	case broadcastGot:
		return v, nil
	case broadcastClosed:
		return v, ErrClosed
	case broadcastEmpty:
		// Loaded after the tail that showed nothing: with senders left it
		// was open and empty; with none, look under mu for a last value.
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
// overwritten, gets a [*LaggedError] whose Skipped is (sent - capacity) -
// position, the values it missed; the next Recv returns the oldest value
// still held. Lagged comes before [ErrClosed]: once every sender is closed,
// Recv still returns the lag and the values held, and ErrClosed when none is
// left. It returns ErrClosed on a closed receiver, and the receiver's Close
// (from any goroutine) ends a Recv that waits with ErrClosed.
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
// parks (a park costs a channel and a wake-up; a sender on another CPU
// usually sends meanwhile). Measured (bench/results/broadcast.md), 1 sender,
// 4 receivers, capacity 16: 500 ns/op and 35 B/op with 0 spins, 100 ns/op and
// 7 B/op with 2; 4 is no better than 2.
const broadcastSpins = 2

// recvSlow is the slow path of Recv: a done ctx first, then TryRecv until it
// has something, waiting on recvQ in between.
func (r *BroadcastReceiver[T]) recvSlow(ctx context.Context) (T, error) {
	if err := ctx.Err(); err != nil {
		return *new(T), err
	}
	for {
		v, err := r.TryRecv()
		for i := 0; err == ErrEmpty && i < broadcastSpins; i++ {
			runtime.Gosched()
			v, err = r.TryRecv()
		}
		if err != ErrEmpty {
			return v, err
		}
		// A wake-up is a hint to look again; nothing is taken while waiting.
		if err := r.c.recvQ.waitFor(ctx, &r.h, r.has); err != nil {
			return *new(T), err
		}
	}
}

// All returns an iterator over the values received: each with a nil error;
// a lag is yielded once as (zero, *LaggedError) and the loop goes on with the
// oldest value still held. It ends when every sender is closed and nothing
// is left, when the receiver is closed, or when ctx is done (check ctx.Err()
// after the loop). A break leaves the receiver at the next value.
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
// it is the last receiver, Send and SendWait return ErrClosed until one
// subscribes, and WaitClosed returns. Close is idempotent.
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
	t := c.tail.Load()
	for n := max(r.cur.Or(broadcastFrozen)>>1, t-min(t, c.capacity)); n < t; n++ {
		c.countOff(&c.slots[n%c.capacity])
	}
	c.hs.done(receivers) // wakes WaitClosed if we were the last
	c.recvQ.mu.Unlock()
	c.recvQ.closeWaiters(&r.h) // its Recv, and its Ready (a token)
	c.slotQ.notify()           // a slot freed, or no receiver left: SendWait goes on
}

// Ready returns a channel that becomes receivable once TryRecv would return
// something other than [ErrEmpty]: a value, a lag, or ErrClosed (every
// sender closed, or this receiver closed, from any goroutine); at once if
// something is there already. It lets the receiver sit in a select beside
// other channels (case <-rx.Ready(): v, err := rx.TryRecv()). Receive from
// the channel at most once, then call TryRecv; call Ready again before each
// select. Nothing is invented (after a receive from it, TryRecv does not
// return ErrEmpty) and nothing is lost (whatever is sent after Ready makes
// it receivable). Ready allocates nothing after its first call, which makes
// the channel and keeps it with the receiver: in a testing/synctest bubble,
// call Ready first inside the bubble, and close a receiver armed in a bubble
// before the bubble ends (see doc.go).
func (r *BroadcastReceiver[T]) Ready() <-chan struct{} { return r.rd.arm(&r.c.recvQ, r.has, 0) } // senders publish under recvQ.mu: no stamp

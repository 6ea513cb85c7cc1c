package gate

import (
	"context"
	"sync/atomic"
)

// This file is the oneshot channel, after tokio's oneshot
// (tokio/src/sync/oneshot.rs): one value, sent at most once, from one sender
// to one receiver. Both handles are views of one struct, made with one
// allocation; one atomic state word carries everything the fast paths need,
// and the rest of the machinery (a channel per wait, the sender's wait
// queue) is only touched when someone has to wait.

// State word of a oneshot.
//
// Bits (high to low):
//
//	5         | 4         | 3        | 2        | 1     | 0
//	txWaiting | rxWaiting | rxClosed | txClosed | value | sent
//
// sent, txClosed, rxClosed and txWaiting are never cleared; value and
// rxWaiting come and go as described below.
const (
	// oneshotSent: a Send has claimed the value slot. It is set by the Send
	// that wins (one CAS) before it writes the value, and never cleared, so
	// every later or concurrent Send returns ErrClosed and the slot has one
	// writer.
	oneshotSent uint32 = 1 << iota
	// oneshotValue: the slot holds a sent value that nobody has received.
	// Set by the CAS that publishes a Send (refused once rxClosed is set),
	// cleared by the receive that takes the value.
	oneshotValue
	// oneshotTxClosed: OneshotSender.Close was called.
	oneshotTxClosed
	// oneshotRxClosed: the receiver is closed: OneshotReceiver.Close was
	// called, or a Recv or TryRecv has returned the value or ErrClosed (the
	// receiver has nothing left to receive). A Send not yet published when
	// it is set fails.
	oneshotRxClosed
	// oneshotRxWaiting: rxReady holds the channel of the receiver's current
	// wait (a Recv or a Ready). Set by the receiver only while the sender
	// has not completed (neither value nor txClosed); cleared by whoever
	// will close rxReady, in the same CAS that completes (Send, Close of
	// either side), or by the receiver when it withdraws the channel
	// (a ctx that ended, a new Ready). So exactly one goroutine closes each
	// armed channel, or none, and it reads rxReady only after the CAS that
	// cleared the bit: the receiver never writes rxReady again once the
	// sender has completed.
	oneshotRxWaiting
	// oneshotTxWaiting: WaitClosed calls may be queued on txq. Set under
	// txq.mu by the first WaitClosed that queues, so that a receiver that
	// closes after it knows to take txq.mu and wake the queue. Never
	// cleared: a stale bit costs one lock, once.
	oneshotTxWaiting

	// oneshotComplete: what a waiting receiver waits for.
	oneshotComplete = oneshotValue | oneshotTxClosed
)

// Why a claim bit and a value bit, not one "sent" bit as in tokio: a gate
// sender handle may be used by several goroutines at once (every sender
// handle is safe for concurrent use), so two Sends may race. The claim (sent) makes exactly one of
// them the writer of the slot; the publish (value) is what the receiver
// acts on, and it is refused if the receiver closed in between, so a Send
// that returns ErrClosed never delivered its value. A Send is linearized at
// its publish.
//
// Why the receiver's channel lives in the struct rather than on a waitQueue:
// at most one goroutine receives at a time, so one slot suffices, and a
// receiver that parks allocates only its channel. The sender's side keeps a
// waitQueue because any number of goroutines may call WaitClosed.

// oneshot is the state shared by a OneshotSender and its OneshotReceiver.
type oneshot[T any] struct {
	state   atomic.Uint32 // see the bit map above
	rxReady chan struct{} // the receiver's armed channel; see oneshotRxWaiting for who may touch it
	txq     waitQueue     // WaitClosed calls; its mu guards the list and their status
	value   T             // written by the Send that set sent, read and cleared by the receive that clears value
}

// A OneshotSender sends one value to its [OneshotReceiver]. Make the pair
// with [Oneshot].
//
// Send may succeed once; every later Send fails, and so does one after the
// receiver closed. Close says that no value will come. A OneshotSender may be
// used by any number of goroutines at once: of concurrent Sends exactly one
// can succeed.
//
// There is no useful zero value: the handles of one channel come from
// Oneshot. A OneshotSender must not be copied (use the pointer).
//
// In the terminology of the Go memory model, a Send that returns nil
// synchronizes before the Recv or TryRecv that returns its value, and Close
// synchronizes before the Recv or TryRecv that reports it with ErrClosed.
type OneshotSender[T any] struct {
	_ noCopy
	c oneshot[T]
}

// A OneshotReceiver receives the one value of its [OneshotSender]. Make the
// pair with [Oneshot].
//
// It is used by one goroutine at a time, as in tokio. Recv, TryRecv and
// Ready report the value once; after that, or once the channel is closed
// without a value, they report [ErrClosed]. Close refuses later sends; a
// value sent before it can still be received.
//
// There is no useful zero value: the handles of one channel come from
// Oneshot. A OneshotReceiver must not be copied (use the pointer).
//
// In the terminology of the Go memory model, the receiver's Close, and a
// Recv or TryRecv that returns the value or ErrClosed, synchronize before
// the sender's IsClosed that reports true and the WaitClosed that returns
// nil because of it.
type OneshotReceiver[T any] struct {
	_ noCopy
	c oneshot[T]
}

// Oneshot returns the two handles of a new oneshot channel, which carries one
// value of type T from the sender to the receiver. The handles are two views
// of one allocation.
func Oneshot[T any]() (*OneshotSender[T], *OneshotReceiver[T]) {
	tx := new(OneshotSender[T])
	// OneshotSender and OneshotReceiver have the same underlying struct, so
	// the receiver is the same memory seen through the other type.
	return tx, (*OneshotReceiver[T])(tx)
}

// Send sends v to the receiver. It never waits.
//
// It returns [ErrClosed], and v is not delivered (the caller still has it),
// if the receiver is closed, if Close was called, or if a Send was already
// called or is running concurrently: a oneshot carries one value. A nil
// result means that v is in the channel: the receiver gets it with its next
// Recv or TryRecv, even if it closes first. It does not mean that the
// receiver will ever ask for it.
func (s *OneshotSender[T]) Send(v T) error {
	c := &s.c
	// Fast path: nobody sent, nobody closed, the receiver is not parked.
	// Claim the slot, write it, publish it: two CASes, no lock.
	if old := c.state.Load(); old&(oneshotSent|oneshotTxClosed|oneshotRxClosed|oneshotRxWaiting) == 0 &&
		c.state.CompareAndSwap(old, old|oneshotSent) {
		c.value = v
		// Publish, if the word did not change since the claim. It may have:
		// the receiver parked or closed, a WaitClosed queued, Close was
		// called; sendPublish sorts that out.
		if c.state.CompareAndSwap(old|oneshotSent, old|oneshotSent|oneshotValue) {
			return nil
		}
		return c.sendPublish()
	}
	return c.sendSlow(v)
}

// sendSlow is Send when the fast path's first CAS was not tried or failed:
// the channel is used up or closed (ErrClosed), the receiver is parked (the
// publish must wake it), or the CAS lost a race. It is outlined so that Send
// can be inlined.
func (c *oneshot[T]) sendSlow(v T) error {
	for {
		old := c.state.Load()
		if old&(oneshotSent|oneshotTxClosed|oneshotRxClosed) != 0 {
			// Another Send claimed the slot, the sender closed, or the
			// receiver closed: a oneshot carries one value.
			return ErrClosed
		}
		if c.state.CompareAndSwap(old, old|oneshotSent) {
			break // the slot is ours
		}
		// The receiver armed or withdrew a channel, a WaitClosed queued, or
		// another goroutine sent or closed: look again.
	}
	c.value = v
	return c.sendPublish()
}

// sendPublish publishes the value just written to the claimed slot: it sets
// value, unless the receiver closed since the claim, and wakes a parked
// receiver.
func (c *oneshot[T]) sendPublish() error {
	for {
		old := c.state.Load()
		if old&oneshotRxClosed != 0 {
			// The receiver closed (or already reported ErrClosed after our
			// sender's Close) before the value was in: it will never look at
			// the slot again. The value goes back to the caller; clear the
			// slot so that it does not keep garbage alive.
			var zero T
			c.value = zero
			return ErrClosed
		}
		// Publish and, if the receiver is parked, take its channel in the
		// same CAS: the receiver never arms again once value is set.
		if c.state.CompareAndSwap(old, (old|oneshotValue)&^oneshotRxWaiting) {
			if old&oneshotRxWaiting != 0 {
				close(c.rxReady)
			}
			return nil
		}
		// The receiver armed, withdrew or closed, a WaitClosed queued, or
		// Close was called concurrently: try again.
	}
}

// Close closes the sender: the receiver, once it has received a value sent
// before, or at once if none was, gets [ErrClosed]. A later Send and
// WaitClosed return ErrClosed, and so do WaitClosed calls that are waiting.
// Close after a successful Send does not take the value back. Close is
// idempotent.
func (s *OneshotSender[T]) Close() {
	c := &s.c
	var old uint32
	for {
		old = c.state.Load()
		if old&oneshotTxClosed != 0 {
			return // already closed
		}
		// Take the receiver's channel, if it is parked, in the same CAS
		// that completes: it will not arm again.
		if c.state.CompareAndSwap(old, (old|oneshotTxClosed)&^oneshotRxWaiting) {
			break
		}
		// Raced with the receiver, a Send or a WaitClosed: look again.
	}
	if old&oneshotRxWaiting != 0 {
		close(c.rxReady)
	}
	if old&oneshotTxWaiting != 0 {
		c.wakeTx(wokeClosed)
	}
}

// IsClosed reports whether the receiver is closed: its Close was called, or
// it has received the value or ErrClosed. A Send would then fail.
func (s *OneshotSender[T]) IsClosed() bool {
	return s.c.state.Load()&oneshotRxClosed != 0
}

// WaitClosed waits until the receiver is closed: its Close was called, or it
// received the value or ErrClosed. It returns nil then. So a goroutine that
// computes the value can stop when nobody wants it any more, and one that
// sent it can wait until it was taken.
//
// If ctx is done first, even if the receiver is already closed, WaitClosed
// returns ctx.Err(). It returns [ErrClosed] if this sender is closed (its
// Close was called) when it is called, or is closed while it waits.
func (s *OneshotSender[T]) WaitClosed(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	switch old := s.c.state.Load(); {
	case old&oneshotTxClosed != 0:
		return ErrClosed // this handle is closed
	case old&oneshotRxClosed != 0:
		return nil
	}
	return s.c.waitClosedSlow(ctx)
}

// waitClosedSlow queues a WaitClosed call on txq and parks it.
func (c *oneshot[T]) waitClosedSlow(ctx context.Context) error {
	w := c.txq.newWaiter(bg)
	c.txq.mu.Lock()
	for {
		old := c.state.Load()
		if old&(oneshotRxClosed|oneshotTxClosed) != 0 {
			c.txq.mu.Unlock()
			c.txq.putWaiter(w)
			if old&oneshotTxClosed != 0 {
				return ErrClosed
			}
			return nil
		}
		// Set txWaiting before queueing, under mu: a Close of either side
		// that comes after this CAS sees the bit and takes mu, so it finds
		// w on the list; one that came before makes the CAS fail, and we
		// see its bit on the next look.
		if old&oneshotTxWaiting != 0 || c.state.CompareAndSwap(old, old|oneshotTxWaiting) {
			break
		}
	}
	c.txq.pushBack(w)
	c.txq.mu.Unlock()
	err := park(ctx, w)
	if err != nil && c.txq.withdraw(w) {
		// Still queued: gone now, nothing to pass on.
		c.txq.mu.Unlock()
		c.txq.putWaiter(w)
		return err
	}
	// Woken (maybe as ctx ended: the wake-up came first).
	closed := w.status == wokeClosed
	c.txq.putWaiter(w)
	if closed {
		return ErrClosed
	}
	return nil
}

// wakeTx wakes every queued WaitClosed with the given status: wokeGranted
// when the receiver closed, wokeClosed when the sender did.
func (c *oneshot[T]) wakeTx(status uint8) {
	c.txq.mu.Lock()
	wake := c.txq.takeAllChain()
	for w := wake; w != nil; w = w.next {
		w.status = status
	}
	c.txq.mu.Unlock()
	wakeAll(wake)
}

// Recv waits for the value and returns it.
//
// If ctx is done first, even if the value is already there, Recv returns
// ctx.Err() and leaves the value where it is (a later call gets it). A value
// that arrives at the moment ctx ends is returned. Recv returns [ErrClosed]
// if the sender closed without sending, if the receiver closed without a
// value sent before, or if the value was already received. After it returns
// the value or ErrClosed, the receiver counts as closed.
func (r *OneshotReceiver[T]) Recv(ctx context.Context) (T, error) {
	c := &r.c
	// Fast path: the value is there and nobody waits in WaitClosed: take it
	// and close the receiver in one CAS.
	if old := c.state.Load(); old&(oneshotValue|oneshotRxClosed|oneshotTxWaiting) == oneshotValue &&
		ctx.Err() == nil && c.state.CompareAndSwap(old, old&^oneshotValue|oneshotRxClosed) {
		v := c.value
		var zero T
		c.value = zero
		return v, nil
	}
	return c.recvSlow(ctx)
}

// recvSlow is Recv when the fast path did not apply: ctx is done, the value
// is not there yet, the receiver is closed, or WaitClosed calls must be
// woken. It is outlined so that Recv can be inlined.
func (c *oneshot[T]) recvSlow(ctx context.Context) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	for {
		if v, err := c.tryRecv(); err != ErrEmpty {
			return v, err
		}
		ch := c.arm()
		if ch == closedChan {
			continue // the sender completed meanwhile
		}
		w := waiter{ready: ch}
		err := park(ctx, &w)
		if err == nil {
			continue // woken: the value or a close is there
		}
		if c.disarm() {
			// Still armed: we withdrew the channel and nothing changed.
			return zero, err
		}
		// The sender completed as ctx ended and is closing our channel: the
		// completion came first. A value is returned; a close is not
		// reported, since a done ctx comes before any other error.
		if c.state.Load()&oneshotValue != 0 {
			return c.tryRecv()
		}
		return zero, err
	}
}

// TryRecv returns the value if it is there. It never waits. It returns
// [ErrEmpty] if nothing was sent yet and the channel is open, and
// [ErrClosed] if the sender closed without sending, if the receiver closed
// without a value sent before, or if the value was already received. After
// it returns the value or ErrClosed, the receiver counts as closed.
func (r *OneshotReceiver[T]) TryRecv() (T, error) {
	return r.c.tryRecv()
}

// tryRecv is TryRecv.
func (c *oneshot[T]) tryRecv() (T, error) {
	var zero T
	for {
		old := c.state.Load()
		if old&oneshotValue == 0 && old&(oneshotTxClosed|oneshotRxClosed) == 0 {
			return zero, ErrEmpty // nothing yet, and something may come
		}
		// The value, or nothing any more: either way the receiver is done
		// and counts as closed. Taking the value clears value in the same
		// CAS, so it is received once.
		if !c.state.CompareAndSwap(old, old&^oneshotValue|oneshotRxClosed) {
			continue // raced with the sender or a WaitClosed: look again
		}
		if old&oneshotTxWaiting != 0 && old&oneshotRxClosed == 0 {
			c.wakeTx(wokeGranted) // we just closed the receiver
		}
		if old&oneshotValue == 0 {
			return zero, ErrClosed
		}
		v := c.value
		c.value = zero
		return v, nil
	}
}

// Close closes the receiver: later Sends fail with [ErrClosed] and the
// sender's WaitClosed returns. A value sent before Close can still be
// received with Recv or TryRecv; without one they return ErrClosed. If a
// channel returned by Ready is armed, Close makes it receivable, since
// TryRecv now reports something. Close is idempotent.
func (r *OneshotReceiver[T]) Close() {
	c := &r.c
	var old uint32
	for {
		old = c.state.Load()
		if old&oneshotRxClosed != 0 {
			return // closed, or done receiving: nothing changes
		}
		if c.state.CompareAndSwap(old, (old|oneshotRxClosed)&^oneshotRxWaiting) {
			break
		}
		// Raced with the sender or a WaitClosed: look again.
	}
	if old&oneshotRxWaiting != 0 {
		close(c.rxReady)
	}
	if old&oneshotTxWaiting != 0 {
		c.wakeTx(wokeGranted)
	}
}

// Ready returns a channel that becomes receivable once TryRecv would return
// something other than [ErrEmpty]: the value, or ErrClosed. It is for a
// select beside other channels (a ticker, ctx.Done(), another receiver):
//
//	select {
//	case <-rx.Ready():
//		v, err := rx.TryRecv() // never ErrEmpty here
//	case <-tick.C:
//	}
//
// Receive from the channel at most once and call Ready again before the next
// select: each call re-arms, and the channel of an earlier call may never
// become receivable. If something is there already the channel is receivable
// at once; otherwise the Send or Close that comes later makes it so. Ready
// allocates nothing when something is there; otherwise it makes one channel,
// as every wait in gate does.
//
// Under [testing/synctest], that channel belongs to the bubble of the
// goroutine that called Ready, and the Send or Close that makes it receivable
// closes it. A Ready channel left armed when its bubble ends (the select took
// another case) must not be closed from outside: before the bubble ends,
// receive the value, close the receiver, or call Ready again from the next
// user (a new call drops the earlier channel without closing it).
func (r *OneshotReceiver[T]) Ready() <-chan struct{} {
	c := &r.c
	if c.state.Load()&(oneshotComplete|oneshotRxClosed) != 0 {
		return closedChan
	}
	return c.arm()
}

// arm registers a new channel for the receiver's next wait and returns it,
// or returns closedChan if the sender completed or the receiver is
// closed. The channel is made here, by the receiving goroutine, for this one
// wait; a channel armed before is withdrawn (it may never be closed).
func (c *oneshot[T]) arm() chan struct{} {
	ch := make(chan struct{})
	for {
		old := c.state.Load()
		if old&(oneshotComplete|oneshotRxClosed) != 0 {
			return closedChan
		}
		if old&oneshotRxWaiting != 0 {
			// An earlier Ready's channel is armed: withdraw it first, so
			// that no sender reads rxReady while we replace it. If the CAS
			// fails, the sender may have completed: look again.
			c.state.CompareAndSwap(old, old&^oneshotRxWaiting)
			continue
		}
		// Nobody reads rxReady while rxWaiting is clear: a sender reads it
		// only after the CAS that clears the bit.
		c.rxReady = ch
		if c.state.CompareAndSwap(old, old|oneshotRxWaiting) {
			return ch
		}
		// The sender completed, or a WaitClosed queued: look again.
	}
}

// disarm withdraws the armed channel after a wait whose ctx ended and
// reports whether it did. False means that a sender (or Close) cleared the
// bit first: it completed and closes, or has closed, the channel.
func (c *oneshot[T]) disarm() bool {
	for {
		old := c.state.Load()
		if old&oneshotRxWaiting == 0 {
			return false
		}
		if c.state.CompareAndSwap(old, old&^oneshotRxWaiting) {
			return true
		}
		// A WaitClosed queued, or the sender completed: look again.
	}
}

package gate

import (
	"context"
	"iter"
	"runtime"
	"sync"
	"sync/atomic"
)

// This file holds the multi-producer, single-consumer channel, after tokio's
// mpsc (tokio/src/sync/mpsc/{chan,list,block,bounded,unbounded}.rs). It has
// three parts:
//
//   - storage: an unbounded, lock-free list of fixed-size blocks (mpscBlock).
//     A send claims a slot index with one atomic add on the tail word, finds
//     the slot's block, writes the value and sets the slot's ready bit. The
//     receiver reads slots in index order. Blocks the receiver is done with
//     are reset and linked again after the tail, so a channel in steady state
//     allocates nothing;
//   - capacity: for a bounded channel, the core's batch semaphore (sem, bias
//     0) holds one permit per free slot. A send (or Reserve) takes permits
//     first and claims a slot only when it holds one, and the receiver
//     releases a permit when it has taken a value out. So the list never
//     holds more than capacity values, senders wait in FIFO order with no
//     barging, and reserved slots (MPSCPermit) come for free. An unbounded
//     channel needs no permits to send; it counts only reserved slots;
//   - signals: the receiver parks on a fresh channel registered under rxMu
//     (Recv), or arms a token channel made with the channel (Ready); a send
//     looks at one atomic word (rxWake) after it published its value and
//     takes rxMu only when the receiver waits.
//
// Closing. The channel is closed for senders (sends and reserves fail with
// ErrClosed) when the receiver closes or the last sender handle closes; for
// a bounded channel that is sem.close, for an unbounded one a bit in the tail
// word and one in the reserved word. Slots already reserved may still be sent
// on. The receiver reports ErrClosed once the channel is closed for senders,
// everything sent was received and no reserved slot is left: bounded, when
// all capacity permits are back in the semaphore; unbounded, when the
// reserved count is 0 and the receiver's index has caught up with the tail.

// mpscBlockCap is the number of slots in a block. With 32 slots a block's
// ready bits and tombstone bits share one 64-bit word.
const (
	mpscBlockCap  = 32
	mpscBlockMask = mpscBlockCap - 1
	mpscReadyAll  = 1<<mpscBlockCap - 1 // every slot of a block written
)

// An mpscBlock holds mpscBlockCap consecutive slots of the channel's list.
//
// Life of a block: a sender that finds no block for its slot appends one
// (grow); senders write slots and set their bits; once every slot is written
// (the block is final), a sender moves tailBlock past it (advanceTail) and
// records in released the tail position it saw right after (tokio's
// observed_tail_position). Every sender that may still hold a pointer to the
// block loaded tailBlock (or saw the block unreleased) before that move, so
// it had claimed its slot before that position. Once the receiver's index has passed the position, all of
// those senders have written their slots, which they do last: no sender
// touches the block again and the receiver may reset it and append it after
// the tail for reuse.
type mpscBlock[T any] struct {
	// start is the index of slots[0]. Written before the block is
	// published by the CAS that links it (grow, recycle); read after the
	// load that found it.
	start uint64
	next  atomic.Pointer[mpscBlock[T]]

	// ready: bit i (i < 32) is set once slot i is written; bit 32+i is set
	// with it when slot i holds no value (a tombstone: a send that claimed
	// the slot but found the channel closed). Set by senders with an atomic
	// OR after the slot write, so a load that sees the bit sees the value.
	ready atomic.Uint64

	// released is 0 while senders may still use the block, then 1 + the
	// tail position observed when tailBlock moved past it.
	released atomic.Uint64

	slots [mpscBlockCap]T
}

// Tail word of an mpscChan.
//
// Bits (high to low):
//
//	63 ........................... 1 | 0
//	next slot index to claim          | closed (unbounded only)
//
// A send claims a slot with one Add(2). An unbounded channel sets the closed
// bit when it closes for senders: a plain send whose Add returns the bit set
// claimed a slot that it does not fill with a value; it writes a tombstone
// there (so the receiver never waits for a hole) and fails. Permit sends
// ignore the bit: reserved slots are delivered after a close.
const (
	mpscTailClosed = 1
	mpscTailShift  = 1
)

// Reserved word of an unbounded mpscChan: reserved slots<<1 | closed. The
// bit is set after the tail's (see closeSenders), so a receiver that sees it
// here knows every later plain send sees the tail's.
const (
	mpscResClosed = 1
	mpscResShift  = 1
)

// rxWake bits: what the receiver waits for. Set and cleared under rxMu; read
// without it by every send after it published its value.
const (
	rxParked = 1 << iota // a Recv is parked on rxCh
	rxArmed              // Ready was called: a send puts a token in readyCh
)

// mpscPad keeps the senders' hot words and the receiver's fields on
// different cache lines, so that one side's writes do not slow the other's
// reads (64 bytes: a cache line on amd64 and most arm64 parts).
type mpscPad [64]byte

// mpscChan is the state shared by the handles of one channel.
type mpscChan[T any] struct {
	// Senders' side: written by every send.
	tail      atomic.Uint64                // see the bit map above
	tailBlock atomic.Pointer[mpscBlock[T]] // the block of the tail, or one before it
	hint      atomic.Pointer[mpscBlock[T]] // a block at or past tailBlock; see findBlock
	walkers   atomic.Int32                 // senders holding a block reached through hint
	_         mpscPad

	// Receiver's side: used by the receiver's goroutine only.
	head     *mpscBlock[T] // the block of index, or the one before it
	freeHead *mpscBlock[T] // oldest block not yet recycled; freeHead..head are done
	index    uint64        // next slot to read
	lastFree *mpscBlock[T] // the block recycle appended last, nil if none or reused
	maxFree  uint64        // how many blocks recycle keeps linked after tailBlock
	_        mpscPad

	// Capacity.
	capacity int64         // -1 for an unbounded channel
	sem      sem           // bounded: one permit per free slot
	reserved atomic.Uint64 // unbounded: see above

	// Signals to the receiver.
	rxWake  atomic.Uint32 // rxParked | rxArmed; mirrors the fields below
	rxMu    sync.Mutex    // guards rxCh, the arming of Ready and its token
	rxCh    chan struct{} // the parked Recv's channel, made by it; closed by a waker
	readyCh chan struct{} // Ready's channel, capacity 1: holds at most one token

	// Handles and closing.
	senders  atomic.Int64 // open sender handles
	rxClosed atomic.Bool  // the receiver called Close; set under closeQ.mu
	closeQ   waitQueue    // WaitClosed callers
}

func newMPSC[T any](capacity int64) (*MPSCSender[T], *MPSCReceiver[T]) {
	c := &mpscChan[T]{capacity: capacity, readyCh: make(chan struct{}, 1)}
	b := new(mpscBlock[T])
	c.tailBlock.Store(b)
	c.hint.Store(b)
	c.head, c.freeHead = b, b
	// A bounded channel keeps the blocks its capacity needs, as a Go
	// channel keeps its buffer: one that fills and drains in turn then
	// allocates nothing. An unbounded one keeps a few, so that the memory of
	// a burst goes back to the collector.
	c.maxFree = 3
	if capacity > 0 {
		c.maxFree = uint64(capacity+mpscBlockCap-1)/mpscBlockCap + 1
	}
	if capacity > 0 {
		c.sem.init(capacity, 0)
	}
	c.senders.Store(1)
	return &MPSCSender[T]{c: c}, &MPSCReceiver[T]{c: c}
}

// MPSC returns the two ends of a bounded multi-producer, single-consumer
// channel that holds up to capacity values. It panics if capacity is below 1
// or above MaxPermits.
func MPSC[T any](capacity int) (*MPSCSender[T], *MPSCReceiver[T]) {
	if capacity < 1 || capacity > MaxPermits {
		panic("gate: MPSC: capacity out of range [1, MaxPermits]")
	}
	return newMPSC[T](int64(capacity))
}

// UnboundedMPSC returns the two ends of an unbounded multi-producer,
// single-consumer channel: its Send never waits, and memory is the only
// bound on what it holds.
func UnboundedMPSC[T any]() (*MPSCSender[T], *MPSCReceiver[T]) {
	return newMPSC[T](-1)
}

// ---------------------------------------------------------------------------
// Storage: senders.

// claim claims the next slot and returns its index and whether the tail was
// closed at that moment.
func (c *mpscChan[T]) claim() (idx uint64, closed bool) {
	t := c.tail.Add(1<<mpscTailShift) - 1<<mpscTailShift
	return t >> mpscTailShift, t&mpscTailClosed != 0
}

// write stores v in slot idx, which the caller claimed, and wakes the
// receiver if it waits. The value is written before the ready bit is set
// (atomic OR), which is what the receiver's load of the bit synchronizes
// with.
func (c *mpscChan[T]) write(idx uint64, v T) {
	b := c.tailBlock.Load()
	if start := idx &^ mpscBlockMask; b.start != start {
		b = c.findBlock(b, start)
	}
	off := idx & mpscBlockMask
	b.slots[off] = v
	b.ready.Or(1 << off)
	// The OR and this load are sequentially consistent, as are the
	// receiver's store of rxWake and its load of the ready bits: at least
	// one of us sees the other.
	if c.rxWake.Load() != 0 {
		c.wakeRx(true)
	}
}

// writeTombstone marks slot idx, which the caller claimed after the channel
// closed, as holding no value.
func (c *mpscChan[T]) writeTombstone(idx uint64) {
	b := c.tailBlock.Load()
	if start := idx &^ mpscBlockMask; b.start != start {
		b = c.findBlock(b, start)
	}
	off := idx & mpscBlockMask
	b.ready.Or(1<<off | 1<<(off+mpscBlockCap))
	if c.rxWake.Load() != 0 {
		// A parked Recv may wait for this slot; Ready may not fire for a
		// tombstone alone (nothing invented).
		c.wakeRx(false)
	}
}

// push claims a slot and writes v there, whatever the state of the channel:
// the caller holds the room for it (a bounded send's permit, a reserved
// slot).
func (c *mpscChan[T]) push(v T) {
	idx, _ := c.claim()
	c.write(idx, v)
}

// findBlock returns the block that starts at start, for a sender that
// claimed a slot there and found that b, the tailBlock it loaded after its
// claim, is an earlier block. It is outlined: a send needs it once per block.
//
// tailBlock moves only past blocks whose every slot is written, so that the
// release protocol holds (see mpscBlock). A sender preempted between its
// claim and its write keeps its block unwritten for as long as it is
// descheduled, and meanwhile the other senders may fill thousands of blocks:
// walking from tailBlock each time would cost them time linear in that
// distance. So the walk starts from hint when that is further on: the last
// block a sender found, never behind tailBlock. A sender holds a block
// reached through hint outside the release protocol, so it counts itself in
// walkers while it does, and the receiver recycles no block while walkers is
// not 0 (hint has left a block before its release is recorded, so a sender
// that counts itself later never loads it).
func (c *mpscChan[T]) findBlock(b *mpscBlock[T], start uint64) *mpscBlock[T] {
	c.walkers.Add(1)
	h := c.hint.Load()
	if h.start > b.start && h.start <= start {
		b = h
	}
	for b.start != start {
		next := b.next.Load()
		if next == nil {
			next = c.grow(b)
		}
		b = next
	}
	if b.start > h.start {
		c.hint.CompareAndSwap(h, b) // may fail: another sender moved it on
	}
	c.walkers.Add(-1)
	c.advanceTail()
	return b
}

// mpscReleasing in mpscBlock.released marks a block that a sender is moving
// tailBlock past: no other sender may start a walk there, and the receiver may
// not recycle it yet.
const mpscReleasing = ^uint64(0)

// advanceTail moves tailBlock past the blocks whose every slot is written, a
// few at most, and releases them: it records in each the tail position seen
// after tailBlock left it. Every sender that may still hold such a block
// loaded tailBlock (or saw it unreleased through hint) before that, so it
// had claimed its slot before the recorded position.
func (c *mpscChan[T]) advanceTail() {
	for range 4 {
		t := c.tailBlock.Load()
		next := t.next.Load()
		if next == nil || t.ready.Load()&mpscReadyAll != mpscReadyAll {
			return // t is the last block, or a send is still writing it
		}
		if !t.released.CompareAndSwap(0, mpscReleasing) {
			return // another sender is moving tailBlock past t
		}
		// Only the sender that marked t moves tailBlock off t; hint, if it
		// is still at t, goes with it (hint is never behind tailBlock once
		// a release is recorded).
		c.tailBlock.Store(next)
		c.hint.CompareAndSwap(t, next)
		t.released.Store(c.tail.Load()>>mpscTailShift + 1)
	}
}

// grow appends a new block after b and returns b's successor: ours, or the
// one another sender (or the receiver's recycling) linked first, in which
// case ours is appended further down, at most a few hops, or dropped.
func (c *mpscChan[T]) grow(b *mpscBlock[T]) *mpscBlock[T] {
	n := &mpscBlock[T]{start: b.start + mpscBlockCap}
	if b.next.CompareAndSwap(nil, n) {
		return n
	}
	next := b.next.Load()
	for cur, i := next, 0; i < 3; i++ {
		n.start = cur.start + mpscBlockCap
		if cur.next.CompareAndSwap(nil, n) {
			break
		}
		cur = cur.next.Load()
	}
	return next
}

// ---------------------------------------------------------------------------
// Storage: the receiver.

// Results of pop.
const (
	popValue = iota // a value was taken
	popEmpty        // no slot is claimed past index
	popBusy         // the slot at index is claimed but not written yet
)

// pop takes the value at index if it is written, in the common case: no
// block boundary, no tombstone. Small enough to be inlined; popSlow does the
// rest.
func (c *mpscChan[T]) pop() (v T, ok bool) {
	i := c.index
	b := c.head
	off := i & mpscBlockMask
	bits := b.ready.Load()
	if b.start != i-off || bits&(1<<off|1<<(off+mpscBlockCap)) != 1<<off {
		return v, false
	}
	v = b.slots[off]
	var zero T
	b.slots[off] = zero // let the collector have what v points to
	c.index = i + 1
	return v, true
}

// popSlow takes the value at index, moving head to the next block and
// skipping tombstones as needed. It never waits.
func (c *mpscChan[T]) popSlow() (v T, st int) {
	for {
		i := c.index
		b := c.head
		off := i & mpscBlockMask
		if b.start != i-off {
			next := b.next.Load()
			if next == nil {
				return v, c.emptyOrBusy(i)
			}
			c.head = next
			c.recycle()
			continue
		}
		bits := b.ready.Load()
		if bits&(1<<off) == 0 {
			return v, c.emptyOrBusy(i)
		}
		c.index = i + 1
		if bits&(1<<(off+mpscBlockCap)) != 0 {
			continue // a tombstone
		}
		v = b.slots[off]
		var zero T
		b.slots[off] = zero
		return v, popValue
	}
}

// emptyOrBusy tells, for a slot i that is not written, whether a sender has
// claimed it.
func (c *mpscChan[T]) emptyOrBusy(i uint64) int {
	if c.tail.Load()>>mpscTailShift > i {
		return popBusy
	}
	return popEmpty
}

// recycle resets the blocks behind head that no sender can touch any more
// and appends them after the tail for reuse.
func (c *mpscChan[T]) recycle() {
	if c.walkers.Load() != 0 {
		return // a sender may hold any block through hint: try again later
	}
	for c.freeHead != c.head {
		b := c.freeHead
		r := b.released.Load()
		if r == 0 || r == mpscReleasing || r-1 > c.index {
			return // some sender may still hold b
		}
		c.freeHead = b.next.Load()
		if b == c.lastFree {
			c.lastFree = nil
		}
		b.next.Store(nil)
		b.ready.Store(0)
		b.released.Store(0)
		c.append(b)
	}
}

// append links b, a block recycle has reset, at the end of the list if fewer
// than maxFree blocks follow tailBlock; otherwise there are spares enough and
// b is left to the collector, so that a burst does not keep its memory for
// good. It looks for the end from the block it appended last, if senders
// have not passed it yet, so that keeping many spares needs no long walk.
func (c *mpscChan[T]) append(b *mpscBlock[T]) {
	t := c.tailBlock.Load()
	// lastFree is not recycled (recycle clears it first), so it is in the
	// list and its start is fixed. If it is behind t, the end is near t.
	e := c.lastFree
	if e == nil || e.start < t.start {
		e = t
	}
	for hops := (e.start - t.start) / mpscBlockCap; hops < c.maxFree; hops++ {
		b.start = e.start + mpscBlockCap
		if e.next.CompareAndSwap(nil, b) {
			c.lastFree = b
			return
		}
		e = e.next.Load() // a sender linked a block after e (grow)
	}
}

// popped gives the slots of n values the receiver took back to a bounded
// channel's capacity: to the oldest queued senders first.
func (c *mpscChan[T]) popped(n int64) {
	if c.capacity > 0 {
		c.sem.release(n, 0, c.capacity, "gate: MPSCReceiver: more values received than sent")
	}
}

// ---------------------------------------------------------------------------
// Closing and signals.

// closeSenders closes the channel for senders: later sends and reserves fail
// with ErrClosed, queued ones too; reserved slots may still be sent on.
func (c *mpscChan[T]) closeSenders() {
	if c.capacity > 0 {
		c.sem.close()
		return
	}
	// The tail's bit first: a receiver that sees the reserved word's bit
	// then knows that every plain send that claims a slot after its next
	// tail load sees the tail's bit and fails.
	c.tail.Or(mpscTailClosed)
	c.reserved.Or(mpscResClosed)
}

// closedForSenders reports whether closeSenders was called.
func (c *mpscChan[T]) closedForSenders() bool {
	if c.capacity > 0 {
		return c.sem.closed()
	}
	return c.reserved.Load()&mpscResClosed != 0
}

// settled reports whether the channel is closed for senders and no slot is
// reserved or held by a value that is not received yet, except values that
// are written and waiting at or after the receiver's index: once it holds,
// the receiver gets every value left and then ErrClosed, and no value can
// arrive any more. Unlike drained it does not read the receiver's index, so
// any goroutine may call it.
func (c *mpscChan[T]) settled() bool {
	if c.capacity > 0 {
		// A permit held means a reserved slot or a value not yet
		// received; all back means nothing is left.
		return c.sem.closed() && c.sem.available(0) == c.capacity
	}
	// Plain sends that claimed a slot before the close have claimed it:
	// the receiver finds them in the list.
	return c.reserved.Load() == mpscResClosed
}

// drained reports, for the receiver, whether Recv must return ErrClosed: the
// channel is settled and the receiver has taken everything.
func (c *mpscChan[T]) drained() bool {
	if c.capacity > 0 {
		return c.settled() // all permits back: nothing left either
	}
	if !c.settled() {
		return false
	}
	// Loaded after the reserved word: a permit send claims its slot before
	// it gives its reservation back.
	return c.tail.Load()>>mpscTailShift == c.index
}

// wakeIfSettled wakes the receiver if it waits and the channel has just
// become settled (a close, a reserved slot given back).
func (c *mpscChan[T]) wakeIfSettled() {
	if c.rxWake.Load() != 0 && c.settled() {
		c.wakeRx(false)
	}
}

// wakeRx wakes a parked Recv and, if Ready is armed and either a value was
// published (value) or the channel is settled, puts a token in readyCh. The
// token is sent under rxMu, so that Ready, which drains stale tokens under
// rxMu before it arms, never finds one that an earlier arming asked for.
func (c *mpscChan[T]) wakeRx(value bool) {
	c.rxMu.Lock()
	ch := c.rxCh
	c.rxCh = nil
	bits := c.rxWake.Load() &^ rxParked
	if bits&rxArmed != 0 && (value || c.settled()) {
		bits &^= rxArmed
		select {
		case c.readyCh <- struct{}{}:
		default: // a token is there already
		}
	}
	c.rxWake.Store(bits)
	c.rxMu.Unlock()
	if ch != nil {
		close(ch)
	}
}

// ---------------------------------------------------------------------------
// Senders.

// An MPSCSender is a sending handle of an mpsc channel made by [MPSC] or
// [UnboundedMPSC]. Any number of goroutines may use one at once; [Clone]
// makes more handles of the same channel.
//
// Values are received in the order their sends claimed a slot: the order of
// the sends of one goroutine, and FIFO among senders that waited for room.
// On a bounded channel, senders that find it full wait in a FIFO queue, and a
// slot freed by the receiver goes to the oldest of them; TrySend and
// TryReserve never take a slot ahead of a queued sender.
//
// The channel is closed for the receiver once every sender handle is closed;
// Close on a handle closes that handle only.
//
// An MPSCSender must not be copied after first use; use it through the
// pointer the constructor returns. In the terminology of the Go memory model,
// a send synchronizes before the receive that returns its value.
//
// [Clone]: MPSCSender.Clone
type MPSCSender[T any] struct {
	_      noCopy
	c      *mpscChan[T]
	closed atomic.Bool // this handle was closed
}

// Send sends v, waiting for room on a bounded channel.
//
// If ctx is already done it returns ctx.Err() and sends nothing, even if
// there is room. If there is room and no sender waits, v is sent at once;
// otherwise Send joins the FIFO queue of senders. If ctx is done before a
// slot is handed to it, Send returns ctx.Err(): v was not sent (the caller
// still has it) and Send left the queue. It returns [ErrClosed], sending
// nothing, if the receiver is closed, this handle is closed or every sender
// is closed. An unbounded channel's Send never waits.
func (s *MPSCSender[T]) Send(ctx context.Context, v T) error {
	// Fast path of a bounded channel: a live ctx, an open handle, a free
	// slot and nobody queued.
	c := s.c
	if c.capacity > 0 && ctx.Err() == nil && !s.closed.Load() && c.sem.acquireFast(1, 0) {
		c.push(v)
		return nil
	}
	return s.sendSlow(ctx, v)
}

// sendSlow is the slow path of Send and the whole of an unbounded Send,
// outlined so that the bounded fast path can be inlined.
func (s *MPSCSender[T]) sendSlow(ctx context.Context, v T) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return ErrClosed
	}
	c := s.c
	if c.capacity < 0 {
		return c.sendUnbounded(v)
	}
	// The receiver is often about to free a slot: yielding a few times is
	// cheaper than parking and being woken. The sender yields only once it
	// is queued, so that no later sender can take the slot first.
	if err := c.sem.acquireSlowSpin(ctx, nil, 1, 0, mpscSpins); err != nil {
		return err
	}
	c.push(v)
	return nil
}

// sendUnbounded sends v on an unbounded channel.
func (c *mpscChan[T]) sendUnbounded(v T) error {
	if c.tail.Load()&mpscTailClosed != 0 {
		return ErrClosed // closed for a while: claim no slot
	}
	idx, closed := c.claim()
	if closed {
		// The close came between the load and the claim: the slot is
		// ours but v must not be delivered.
		c.writeTombstone(idx)
		return ErrClosed
	}
	c.write(idx, v)
	return nil
}

// TrySend sends v if there is room now, without waiting. It returns
// [ErrClosed] if the channel is closed for this handle (checked first), and
// [ErrFull] if no slot is free or another sender waits for one; v is then
// not sent.
func (s *MPSCSender[T]) TrySend(v T) error {
	if s.closed.Load() {
		return ErrClosed
	}
	c := s.c
	if c.capacity < 0 {
		return c.sendUnbounded(v)
	}
	if err := c.sem.tryAcquire(1, 0); err != nil {
		if err == ErrNoPermits {
			return ErrFull
		}
		return err
	}
	c.push(v)
	return nil
}

// Reserve reserves room for one value; it is ReserveN(ctx, 1).
func (s *MPSCSender[T]) Reserve(ctx context.Context) (MPSCPermit[T], error) {
	c := s.c
	if c.capacity > 0 && ctx.Err() == nil && !s.closed.Load() && c.sem.acquireFast(1, 0) {
		return MPSCPermit[T]{c: c, n: 1}, nil
	}
	return s.reserveSlow(ctx, 1)
}

// ReserveN reserves room for n values, waiting for it on a bounded channel
// like Send, in the same FIFO queue. The returned [MPSCPermit] sends up to n
// values without waiting and without failing, even after the channel closes;
// its Release gives the rest back.
//
// A reservation takes the slots it gets while it waits (so that smaller
// requests behind it cannot take them); if ctx is done first it returns
// ctx.Err() and gives them to the next sender. The errors come in this
// order: a done ctx; [ErrTooMany] if n is above MaxCapacity (unbounded: above
// MaxPermits), which can never be met; [ErrClosed] if the channel is closed
// for this handle. ReserveN(ctx, 0) returns an empty permit at once unless
// one of those applies. An unbounded channel's ReserveN never waits; it
// returns ErrTooMany if more than MaxPermits slots would be reserved at once.
// ReserveN panics if n is negative.
func (s *MPSCSender[T]) ReserveN(ctx context.Context, n int) (MPSCPermit[T], error) {
	return s.reserveSlow(ctx, n)
}

func (s *MPSCSender[T]) reserveSlow(ctx context.Context, n int) (MPSCPermit[T], error) {
	if n < 0 {
		panic("gate: MPSCSender.ReserveN: negative count")
	}
	if err := ctx.Err(); err != nil {
		return MPSCPermit[T]{}, err
	}
	c := s.c
	if n > MaxPermits || (c.capacity > 0 && int64(n) > c.capacity) {
		return MPSCPermit[T]{}, ErrTooMany
	}
	if s.closed.Load() {
		return MPSCPermit[T]{}, ErrClosed
	}
	if c.capacity < 0 {
		if err := c.reserveUnbounded(int64(n)); err != nil {
			return MPSCPermit[T]{}, err
		}
		return MPSCPermit[T]{c: c, n: int64(n)}, nil
	}
	if err := c.sem.acquireSlow(ctx, int64(n), 0); err != nil {
		return MPSCPermit[T]{}, err
	}
	return MPSCPermit[T]{c: c, n: int64(n)}, nil
}

// reserveUnbounded counts n more reserved slots of an unbounded channel,
// unless it is closed. n == 0 only checks that.
func (c *mpscChan[T]) reserveUnbounded(n int64) error {
	for {
		old := c.reserved.Load()
		if old&mpscResClosed != 0 {
			return ErrClosed
		}
		if int64(old>>mpscResShift) > MaxPermits-n {
			return ErrTooMany
		}
		if n == 0 || c.reserved.CompareAndSwap(old, old+uint64(n)<<mpscResShift) {
			return nil
		}
		// Another reservation or a permit changed the count: again.
	}
}

// TryReserve reserves room for one value without waiting; it is
// TryReserveN(1).
func (s *MPSCSender[T]) TryReserve() (MPSCPermit[T], error) {
	return s.TryReserveN(1)
}

// TryReserveN reserves room for n values if it is free now, without waiting.
// It returns [ErrTooMany] if n is above MaxCapacity (unbounded: above
// MaxPermits), then [ErrClosed] if the channel is closed for this handle,
// then [ErrFull] if fewer than n slots are free or another sender waits. It
// panics if n is negative.
func (s *MPSCSender[T]) TryReserveN(n int) (MPSCPermit[T], error) {
	if n < 0 {
		panic("gate: MPSCSender.TryReserveN: negative count")
	}
	c := s.c
	if n > MaxPermits || (c.capacity > 0 && int64(n) > c.capacity) {
		return MPSCPermit[T]{}, ErrTooMany
	}
	if s.closed.Load() {
		return MPSCPermit[T]{}, ErrClosed
	}
	if c.capacity < 0 {
		if err := c.reserveUnbounded(int64(n)); err != nil {
			return MPSCPermit[T]{}, err
		}
		return MPSCPermit[T]{c: c, n: int64(n)}, nil
	}
	if err := c.sem.tryAcquire(int64(n), 0); err != nil {
		if err == ErrNoPermits {
			return MPSCPermit[T]{}, ErrFull
		}
		return MPSCPermit[T]{}, err
	}
	return MPSCPermit[T]{c: c, n: int64(n)}, nil
}

// Clone returns a new sender handle of the same channel, which keeps the
// channel open for the receiver until it too is closed. The clone of a
// closed handle, or of a channel whose senders are all closed, is closed.
func (s *MPSCSender[T]) Clone() *MPSCSender[T] {
	n := &MPSCSender[T]{c: s.c}
	if s.closed.Load() {
		n.closed.Store(true)
		return n
	}
	for {
		k := s.c.senders.Load()
		if k == 0 {
			// s is being closed at this moment and was the last one.
			n.closed.Store(true)
			return n
		}
		if s.c.senders.CompareAndSwap(k, k+1) {
			return n
		}
	}
}

// Close closes this handle: its later sends and reserves fail with
// [ErrClosed]. When the last open handle closes, the receiver gets the
// values already sent and the ones sent on reserved slots, then ErrClosed.
// Permits reserved through the handle stay valid. Close is idempotent.
func (s *MPSCSender[T]) Close() {
	if s.closed.Swap(true) {
		return
	}
	c := s.c
	if c.senders.Add(-1) == 0 {
		c.closeSenders()
		c.wakeIfSettled()
	}
}

// IsClosed reports whether the receiver is closed.
func (s *MPSCSender[T]) IsClosed() bool { return s.c.rxClosed.Load() }

// WaitClosed waits until the receiver is closed. It returns nil then, or
// ctx.Err() if ctx is done first (a done ctx is reported first). It returns
// [ErrClosed] if this handle was closed before the call; a Close while it
// waits does not end it (it waits for the receiver, not for this handle).
func (s *MPSCSender[T]) WaitClosed(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return ErrClosed
	}
	c := s.c
	if c.rxClosed.Load() {
		return nil
	}
	return c.closeQ.waitUntil(ctx, c.rxClosed.Load)
}

// Capacity returns the number of free slots now: 0 while a sender waits;
// -1 for an unbounded channel.
func (s *MPSCSender[T]) Capacity() int { return s.c.freeSlots() }

// MaxCapacity returns the capacity the channel was made with, or -1 for an
// unbounded channel.
func (s *MPSCSender[T]) MaxCapacity() int { return int(s.c.capacity) }

func (c *mpscChan[T]) freeSlots() int {
	if c.capacity < 0 {
		return -1
	}
	return int(c.sem.available(0))
}

// An MPSCPermit is room reserved in an mpsc channel for Count() values,
// returned by Reserve, ReserveN, TryReserve and TryReserveN. Send uses one
// slot and never fails or waits; Release gives the unused slots back. Until
// then they count against the capacity, and a closed receiver waits for them
// before it reports [ErrClosed]. Its zero value holds no slot.
//
// An MPSCPermit must not be copied: a copy holds the same slots, and
// releasing both would return them twice (a noCopy field makes go vet report
// copies; pass a *MPSCPermit). In the terminology of the Go memory model, a
// Send synchronizes before the receive that returns its value, and a Release
// before the reserve that gets the slots it returned.
type MPSCPermit[T any] struct {
	_ noCopy
	c *mpscChan[T]
	n int64
}

// Send sends v on one of the reserved slots. It never waits and never fails,
// even if the channel was closed since the reservation: the receiver still
// gets v. It panics if no reserved slot is left.
func (p *MPSCPermit[T]) Send(v T) {
	if p.n <= 0 {
		panic("gate: MPSCPermit.Send: no reserved slot left")
	}
	p.n--
	c := p.c
	c.push(v)
	if c.capacity < 0 {
		// The slot is claimed: give the reservation back (the value now
		// keeps the receiver waiting, as a plain send's does).
		c.unreserve(1)
	}
}

// Release gives the unused reserved slots back and empties p. A second
// Release of the same variable does nothing.
func (p *MPSCPermit[T]) Release() {
	n := p.n
	if n <= 0 {
		return
	}
	p.n = 0
	c := p.c
	if c.capacity > 0 {
		c.sem.release(n, 0, c.capacity, "gate: MPSCPermit.Release: more slots than the capacity (a copied MPSCPermit?)")
		c.wakeIfSettled()
		return
	}
	c.unreserve(n)
}

// unreserve takes n reserved slots off an unbounded channel's count and
// wakes the receiver if that settles the channel.
func (c *mpscChan[T]) unreserve(n int64) {
	for {
		old := c.reserved.Load()
		if int64(old>>mpscResShift) < n {
			panic("gate: MPSCPermit: more slots given back than reserved (a copied MPSCPermit?)")
		}
		if c.reserved.CompareAndSwap(old, old-uint64(n)<<mpscResShift) {
			break
		}
	}
	c.wakeIfSettled()
}

// Count returns the number of reserved slots left in p.
func (p *MPSCPermit[T]) Count() int { return int(p.n) }

// ---------------------------------------------------------------------------
// The receiver.

// An MPSCReceiver is the receiving handle of an mpsc channel made by [MPSC]
// or [UnboundedMPSC]. It is used by one goroutine at a time.
//
// Its Ready method lets a receive sit in a select statement beside other
// channels; its All method ranges over the values.
//
// An MPSCReceiver must not be copied after first use; use it through the
// pointer the constructor returns. In the terminology of the Go memory model,
// a send synchronizes before the receive that returns its value, and a
// receive on a bounded channel synchronizes before the send or reserve that
// takes the slot it freed.
type MPSCReceiver[T any] struct {
	_ noCopy
	c *mpscChan[T]
}

// Recv receives the next value, waiting until one is sent.
//
// If ctx is already done it returns ctx.Err() and takes nothing. It returns
// [ErrClosed] once the channel is closed (by Close, or because every sender
// is closed), every value has been received and no reserved slot is left. If
// ctx is done while it waits it returns ctx.Err() and takes nothing: Recv is
// cancel-safe.
func (r *MPSCReceiver[T]) Recv(ctx context.Context) (T, error) {
	c := r.c
	if ctx.Err() == nil {
		if v, ok := c.pop(); ok {
			c.popped(1)
			return v, nil
		}
	}
	return r.recvSlow(ctx)
}

// recvSlow is the slow path of Recv: block boundaries, tombstones, closing
// and waiting.
func (r *MPSCReceiver[T]) recvSlow(ctx context.Context) (T, error) {
	c := r.c
	var zero T
	spin := 0
	for {
		if err := ctx.Err(); err != nil {
			return zero, err
		}
		v, st := c.popSlow()
		if st == popValue {
			c.popped(1)
			return v, nil
		}
		if st == popEmpty && c.drained() {
			return zero, ErrClosed
		}
		if spin < mpscSpins {
			// A sender on another CPU is often about to publish: yielding a
			// few times is cheaper than parking and being woken.
			spin++
			runtime.Gosched()
			continue
		}
		// Park: register a channel of our own, then look again, so that a
		// send that published before it saw the registration is not
		// missed.
		ch := make(chan struct{})
		c.rxMu.Lock()
		c.rxCh = ch
		c.rxWake.Store(c.rxWake.Load() | rxParked)
		c.rxMu.Unlock()
		v, st = c.popSlow()
		if st == popValue || (st == popEmpty && c.drained()) {
			c.unpark(ch)
			if st == popValue {
				c.popped(1)
				return v, nil
			}
			return zero, ErrClosed
		}
		if done := ctx.Done(); done == nil {
			<-ch
		} else {
			select {
			case <-ch:
			case <-done:
				c.unpark(ch)
				return zero, ctx.Err()
			}
		}
	}
}

// mpscSpins is how many times Recv and a bounded Send yield and look again
// before they park.
const mpscSpins = 4

// unpark takes the receiver's registration ch back unless a waker took it.
func (c *mpscChan[T]) unpark(ch chan struct{}) {
	c.rxMu.Lock()
	if c.rxCh == ch {
		c.rxCh = nil
		c.rxWake.Store(c.rxWake.Load() &^ rxParked)
	}
	c.rxMu.Unlock()
}

// RecvMany receives up to len(buf) values into buf and returns how many. It
// waits like Recv until at least one value is there, then takes the ones
// that are there without waiting for more (as io.Reader's Read does). It
// returns 0 and [ErrClosed] once the channel is closed and drained, and
// 0, nil at once if len(buf) is 0. A done ctx is reported first.
func (r *MPSCReceiver[T]) RecvMany(ctx context.Context, buf []T) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if len(buf) == 0 {
		return 0, nil
	}
	c := r.c
	n := 0
	for n < len(buf) {
		v, ok := c.pop()
		if !ok {
			var st int
			if v, st = c.popSlow(); st != popValue {
				break
			}
		}
		buf[n] = v
		n++
	}
	if n > 0 {
		c.popped(int64(n)) // one release for the whole batch
		return n, nil
	}
	v, err := r.recvSlow(ctx)
	if err != nil {
		return 0, err
	}
	buf[0] = v
	n = 1
	m := 0
	for n < len(buf) {
		v, ok := c.pop()
		if !ok {
			var st int
			if v, st = c.popSlow(); st != popValue {
				break
			}
		}
		buf[n] = v
		n++
		m++
	}
	if m > 0 {
		c.popped(int64(m))
	}
	return n, nil
}

// TryRecv receives the next value if there is one, without waiting. It
// returns [ErrEmpty] if none is there yet and [ErrClosed] if the channel is
// closed and drained, as Recv would.
//
// A send that has claimed the next slot but not finished writing it (a few
// instructions) is waited for, so that TryRecv never reports ErrEmpty while
// a later value is there.
func (r *MPSCReceiver[T]) TryRecv() (T, error) {
	c := r.c
	if v, ok := c.pop(); ok {
		c.popped(1)
		return v, nil
	}
	return r.tryRecvSlow()
}

func (r *MPSCReceiver[T]) tryRecvSlow() (T, error) {
	c := r.c
	for {
		v, st := c.popSlow()
		switch st {
		case popValue:
			c.popped(1)
			return v, nil
		case popBusy:
			runtime.Gosched() // the sender is between its claim and its write
		default:
			var zero T
			if c.drained() {
				return zero, ErrClosed
			}
			return zero, ErrEmpty
		}
	}
}

// peek reports whether TryRecv would return something other than ErrEmpty:
// a value or ErrClosed. Like TryRecv it waits for a slot being written, and
// it skips tombstones.
func (c *mpscChan[T]) peek() bool {
	for {
		i := c.index
		b := c.head
		off := i & mpscBlockMask
		if b.start != i-off {
			next := b.next.Load()
			if next == nil {
				if c.emptyOrBusy(i) == popBusy {
					runtime.Gosched()
					continue
				}
				return c.drained()
			}
			c.head = next
			c.recycle()
			continue
		}
		bits := b.ready.Load()
		if bits&(1<<off) == 0 {
			if c.emptyOrBusy(i) == popBusy {
				runtime.Gosched()
				continue
			}
			return c.drained()
		}
		if bits&(1<<(off+mpscBlockCap)) == 0 {
			return true
		}
		c.index = i + 1 // a tombstone: skipping it changes nothing visible
	}
}

// Ready returns a channel that becomes receivable once TryRecv would return
// a value or [ErrClosed], for use in a select statement beside other
// channels. Receive from it at most once, then call TryRecv, which will not
// return ErrEmpty; call Ready again before the next select. Anything sent
// after Ready makes the channel receivable. Ready allocates nothing and
// starts no goroutine.
//
// When a value is there already Ready returns a closed channel. Otherwise it
// returns a channel made with the receiver (receivable once a sender puts a
// token in it): if the receiver was made outside a synctest bubble, a select
// on it inside one is not durably blocking.
func (r *MPSCReceiver[T]) Ready() <-chan struct{} {
	c := r.c
	if c.peek() {
		return closedChan
	}
	c.rxMu.Lock()
	// Tokens are sent only under rxMu and only while armed: after this
	// drain, a token in readyCh comes from a sender that saw this arming.
	select {
	case <-c.readyCh:
	default:
	}
	c.rxWake.Store(c.rxWake.Load() | rxArmed)
	c.rxMu.Unlock()
	if c.peek() {
		// Something came between the first look and the arming; a sender
		// may have sent the token already.
		c.rxMu.Lock()
		if bits := c.rxWake.Load(); bits&rxArmed != 0 {
			c.rxWake.Store(bits &^ rxArmed)
			select {
			case c.readyCh <- struct{}{}:
			default:
			}
		}
		c.rxMu.Unlock()
	}
	return c.readyCh
}

// Close closes the receiver: senders' later and queued sends and reserves
// fail with [ErrClosed], and WaitClosed returns. Values already sent and
// values sent on slots reserved before are still received; after them Recv
// returns ErrClosed. Close is idempotent. Unlike the other methods, it may be
// called from another goroutine than the one receiving.
func (r *MPSCReceiver[T]) Close() {
	c := r.c
	if c.rxClosed.Load() {
		return
	}
	// Senders fail first, so that a sender that saw IsClosed or WaitClosed
	// return cannot send any more.
	c.closeSenders()
	c.rxClosed.Store(true)
	c.closeQ.wakeAll()
	// Close touches no state of the receiving goroutine, so it may also
	// come from another goroutine to end a Recv or a select on Ready that
	// waits on an idle channel.
	c.wakeIfSettled()
}

// IsClosed reports whether Close was called or every sender is closed, even
// if values are still to be received.
func (r *MPSCReceiver[T]) IsClosed() bool {
	return r.c.rxClosed.Load() || r.c.senders.Load() == 0
}

// Len returns the number of values sent and not yet received (counting
// sends that are writing their value right now).
func (r *MPSCReceiver[T]) Len() int {
	c := r.c
	return int(c.tail.Load()>>mpscTailShift - c.index)
}

// Capacity returns the number of free slots now, or -1 for an unbounded
// channel.
func (r *MPSCReceiver[T]) Capacity() int { return r.c.freeSlots() }

// MaxCapacity returns the capacity the channel was made with, or -1 for an
// unbounded channel.
func (r *MPSCReceiver[T]) MaxCapacity() int { return int(r.c.capacity) }

// All returns an iterator over the values received, in order. It ends when
// the channel is closed and drained, or when ctx is done; breaking out of
// the loop leaves the values not yet received in the channel.
func (r *MPSCReceiver[T]) All(ctx context.Context) iter.Seq[T] {
	return func(yield func(T) bool) {
		for {
			v, err := r.Recv(ctx)
			if err != nil || !yield(v) {
				return
			}
		}
	}
}

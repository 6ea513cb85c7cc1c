package gate

import (
	"context"
	"iter"
	"runtime"
	"sync/atomic"
)

// This file holds the multi-producer, single-consumer channel, after tokio's
// mpsc (tokio/src/sync/mpsc/{chan,list,block,bounded,unbounded}.rs):
//
//   - storage: an unbounded, lock-free list of fixed-size blocks (mpscBlock).
//     A send claims a slot index with one atomic add on the tail word, finds
//     the slot's block, writes the value and sets the slot's ready bit. The
//     receiver reads slots in index order. Blocks the receiver is done with
//     are reset and linked again after the tail: no allocation in steady state;
//   - capacity: a bounded channel's core semaphore (sem, bias 0) holds one
//     permit per free slot. A send (or Reserve) takes a permit before it
//     claims a slot; the receiver releases it once it took the value out. So
//     senders wait FIFO with no barging, and a reserved slot (MPSCPermit) is
//     capacity, not a position: it never holds up values sent after it. An
//     unbounded channel counts only its reserved slots (reserved);
//   - waiting: Recv and RecvMany wait on the receive queue rq
//     (waitQueue.waitFor), Ready is a readiness armed on it; every send calls
//     rq.notify after it published its value (one load when nobody waits).
//     Handles, their counts and WaitClosed are the core's (handle, handles).
//
// Closing. The channel is closed for senders when the receiver closes or the
// last sender handle closes: sem.close for a bounded channel, a bit in the
// tail word and one in the reserved word for an unbounded one. Reserved slots
// may still be sent on. The channel is settled once it is closed for senders
// and no slot is reserved; the receiver reports ErrClosed once it is settled
// and everything sent was received.

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
// (grow); senders write slots and set their bits; once every slot is written,
// a sender moves tailBlock past it (advanceTail) and records in released the
// tail position it saw right after (tokio's observed_tail_position). Every
// sender that may still hold the block loaded tailBlock (or saw the block
// unreleased) before that move, so it claimed its slot before that position.
// Once the receiver's index has passed it, those senders have all written
// their slots, which they do last: the receiver may reset the block and
// append it after the tail for reuse.
type mpscBlock[T any] struct {
	start uint64 // index of slots[0]; written before the CAS that links the block
	next  atomic.Pointer[mpscBlock[T]]
	// ready: bit i (i < 32) is set once slot i is written; bit 32+i with it
	// when slot i holds no value (a tombstone: a send that claimed the slot
	// found the channel closed). Set with an atomic OR after the slot write,
	// so a load that sees the bit sees the value.
	ready atomic.Uint64
	// released is 0 while senders may still use the block, then 1 + the tail
	// position observed when tailBlock moved past it.
	released atomic.Uint64
	slots    [mpscBlockCap]T
}

// Tail word: next slot index to claim << 1 | closed (unbounded only). A send
// claims with one Add(2). A plain unbounded send whose Add returns the bit
// set claimed a slot it does not fill: it writes a tombstone (so the receiver
// never waits for a hole) and fails. Permit sends ignore the bit.
//
// Reserved word of an unbounded channel: reserved slots << 1 | closed. Its
// bit is set after the tail's (closeSenders), so a receiver that sees it
// knows every later plain send sees the tail's.
const (
	mpscTailClosed = 1
	mpscTailShift  = 1
	mpscResClosed  = 1
	mpscResShift   = 1
)

// mpscPad keeps the senders' hot words and the receiver's fields on
// different cache lines (64 bytes: a line on amd64 and most arm64 parts).
type mpscPad [64]byte

// mpscChan is the state shared by the handles of one channel.
type mpscChan[T any] struct {
	// Senders' side: written by every send.
	tail      atomic.Uint64                // see the bit map above
	tailBlock atomic.Pointer[mpscBlock[T]] // the block of the tail, or one before it
	hint      atomic.Pointer[mpscBlock[T]] // a block at or past tailBlock; see findBlock
	walkers   atomic.Int32                 // senders holding a block reached through hint
	_         mpscPad

	// Receiver's side: used by the receiving goroutine only.
	head     *mpscBlock[T] // the block of index, or the one before it
	freeHead *mpscBlock[T] // oldest block not yet recycled; freeHead..head are done
	index    uint64        // next slot to read
	lastFree *mpscBlock[T] // the block recycle appended last, nil if none or reused
	maxFree  uint64        // how many blocks recycle keeps linked after tailBlock
	rxBusy   atomic.Bool   // a receive waits: catches a second receiving goroutine
	_        mpscPad

	capacity int64         // -1 for an unbounded channel
	sem      sem           // bounded: one permit per free slot
	reserved atomic.Uint64 // unbounded: see above
	rq       waitQueue     // Recv, RecvMany and an armed Ready
	rd       readiness     // Ready's channel and token waiter on rq
	hs       handles       // open senders and receiver; WaitClosed callers
}

func newMPSC[T any](capacity int64) (*MPSCSender[T], *MPSCReceiver[T]) {
	c := &mpscChan[T]{capacity: capacity}
	b := new(mpscBlock[T])
	c.tailBlock.Store(b)
	c.hint.Store(b)
	c.head, c.freeHead = b, b
	// A bounded channel keeps the blocks its capacity needs, as a Go channel
	// keeps its buffer; an unbounded one a few, so that the memory of a burst
	// goes back to the collector.
	c.maxFree = 3
	if capacity > 0 {
		c.maxFree = uint64(capacity+mpscBlockCap-1)/mpscBlockCap + 1
		c.sem.init(capacity, 0)
	}
	c.hs.add(senders)
	c.hs.add(receivers)
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

// block returns the block of slot idx, which the caller claimed.
func (c *mpscChan[T]) block(idx uint64) *mpscBlock[T] {
	b := c.tailBlock.Load()
	if start := idx &^ mpscBlockMask; b.start != start {
		b = c.findBlock(b, start)
	}
	return b
}

// write stores v in slot idx, which the caller claimed, and wakes the
// receiver if it waits. The value is written before the ready bit (atomic
// OR), which the receiver's load of the bit synchronizes with; the OR comes
// before notify's load of rq.waiting (see waitQueue.waiting).
func (c *mpscChan[T]) write(idx uint64, v T) {
	b := c.block(idx)
	off := idx & mpscBlockMask
	b.slots[off] = v
	b.ready.Or(1 << off)
	c.rq.notify()
}

// push claims a slot and writes v there, whatever the state of the channel:
// the caller holds the room for it (a bounded send's permit, a reserved slot).
func (c *mpscChan[T]) push(v T) {
	idx, _ := c.claim()
	c.write(idx, v)
}

// findBlock returns the block that starts at start, for a sender whose slot
// is there while b, the tailBlock it loaded, is an earlier block. Outlined: a
// send needs it once per block.
//
// tailBlock moves only past blocks whose every slot is written. A sender
// preempted between its claim and its write holds tailBlock back for as long
// as it is descheduled, while the others fill block after block: walking from
// tailBlock each time would cost them time linear in that distance. So the
// walk starts from hint when that is further on: the last block a sender
// found, never behind tailBlock. A sender holding a block reached through
// hint is outside the release protocol, so it counts itself in walkers, and
// the receiver recycles nothing while walkers is not 0 (hint has left a block
// before its release is recorded, so a later walker never loads it).
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
// tailBlock past: the receiver may not recycle it yet.
const mpscReleasing = ^uint64(0)

// advanceTail moves tailBlock past the blocks whose every slot is written, a
// few at most, and records in each the tail position seen after tailBlock
// left it (see mpscBlock).
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
		// Only the sender that marked t moves tailBlock off t; hint goes
		// with it if it is still at t.
		c.tailBlock.Store(next)
		c.hint.CompareAndSwap(t, next)
		t.released.Store(c.tail.Load()>>mpscTailShift + 1)
	}
}

// grow appends a new block after b and returns b's successor: ours, or the
// one another sender (or recycle) linked first, in which case ours goes a
// few hops further down, or is dropped.
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

// Results of popSlow.
const (
	popValue = iota // a value is there (and was taken, if asked)
	popEmpty        // no slot is claimed past index
	popBusy         // the slot at index is claimed but not written yet
)

// pop takes the value at index if it is written, in the common case: no
// block boundary, no tombstone. Small enough to be inlined.
func (c *mpscChan[T]) pop() (v T, ok bool) {
	i := c.index
	b := c.head
	off := i & mpscBlockMask
	if b.start != i-off || b.ready.Load()&(1<<off|1<<(off+mpscBlockCap)) != 1<<off {
		return v, false
	}
	v = b.slots[off]
	var zero T
	b.slots[off] = zero // let the collector have what v points to
	c.index = i + 1
	return v, true
}

// popSlow looks at the slot at index, moving head to the next block and
// skipping tombstones as needed, and takes its value if take is set. It
// never waits.
func (c *mpscChan[T]) popSlow(take bool) (v T, st int) {
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
		if bits&(1<<(off+mpscBlockCap)) != 0 {
			c.index = i + 1 // a tombstone: skipping it changes nothing visible
			continue
		}
		if take {
			v = b.slots[off]
			var zero T
			b.slots[off] = zero
			c.index = i + 1
		}
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

// append links b, reset by recycle, at the end of the list if fewer than
// maxFree blocks follow tailBlock; otherwise b goes to the collector. It
// starts looking for the end at the block it appended last, if senders have
// not passed it yet, so that keeping many spares needs no long walk.
func (c *mpscChan[T]) append(b *mpscBlock[T]) {
	t := c.tailBlock.Load()
	e := c.lastFree // not recycled (recycle clears it first): in the list
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

// mpscMisuse is the panic of a receiver used by two goroutines at once, the
// one way to receive more values than were sent.
const mpscMisuse = "gate: MPSCReceiver used by two goroutines at once; guard it with a Mutex or fan out to several channels"

// popped gives the slots of n values the receiver took back to a bounded
// channel's capacity: to the oldest queued senders first.
func (c *mpscChan[T]) popped(n int64) {
	if c.capacity > 0 {
		c.sem.release(n, 0, c.capacity, mpscMisuse)
	}
}

// popMany takes up to len(buf) values that are there now into buf, gives
// their slots back with one release, and returns how many it took.
func (c *mpscChan[T]) popMany(buf []T) int {
	n := 0
	for n < len(buf) {
		v, ok := c.pop()
		if !ok {
			var st int
			if v, st = c.popSlow(true); st != popValue {
				break
			}
		}
		buf[n] = v
		n++
	}
	if n > 0 {
		c.popped(int64(n))
	}
	return n
}

// ---------------------------------------------------------------------------
// Closing.

// closeSenders closes the channel for senders: later sends and reserves fail
// with ErrClosed, queued ones too; reserved slots may still be sent on. It
// may be called twice (the receiver's Close, the last sender's).
func (c *mpscChan[T]) closeSenders() {
	if c.capacity > 0 {
		c.sem.close()
		return
	}
	// The tail's bit first: see the reserved word.
	c.tail.Or(mpscTailClosed)
	c.reserved.Or(mpscResClosed)
}

// settled reports whether the channel is closed for senders and no slot is
// reserved or held by a value not yet claimed: the receiver then gets what
// is in the list and ErrClosed, and nothing can arrive any more. It does not
// read the receiver's index, so any goroutine may call it.
func (c *mpscChan[T]) settled() bool {
	if c.capacity > 0 {
		// All permits back: no reserved slot and no value left either.
		return c.sem.closed() && c.sem.available(0) == c.capacity
	}
	return c.reserved.Load() == mpscResClosed
}

// drained reports, for the receiver, whether Recv must return ErrClosed: the
// channel is settled and the receiver has taken everything.
func (c *mpscChan[T]) drained() bool {
	if c.capacity > 0 || !c.settled() {
		return c.settled()
	}
	// Loaded after the reserved word: a permit send claims its slot before
	// it gives its reservation back.
	return c.tail.Load()>>mpscTailShift == c.index
}

// wakeIfSettled wakes the receiver (a waiting Recv, an armed Ready) if the
// channel is settled: after a close, or a reserved slot given back.
func (c *mpscChan[T]) wakeIfSettled() {
	if c.rq.waiting.Load() != 0 && c.settled() {
		c.rq.wakeAll()
	}
}

// ---------------------------------------------------------------------------
// Senders.

// An MPSCSender is a sending handle of an mpsc channel made by [MPSC] or
// [UnboundedMPSC]. Any number of goroutines may use one at once; Clone makes
// more handles of the same channel, each closed on its own.
//
// Values are received in the order their sends claimed a slot: the order of
// the sends of one goroutine, and FIFO among senders that waited for room.
// On a bounded channel, senders that find it full wait in a FIFO queue, and a
// slot freed by the receiver goes to the oldest of them; TrySend and
// TryReserve never take a slot ahead of a queued sender. The receiver gets
// ErrClosed once every sender handle is closed and it has taken everything.
//
// An MPSCSender must not be copied after first use. In the terminology of the
// Go memory model, a send synchronizes before the receive that returns its
// value.
type MPSCSender[T any] struct {
	_ noCopy
	c *mpscChan[T]
	h handle
}

// Send sends v, waiting for room on a bounded channel.
//
// If there is room and no sender waits, v is sent at once; otherwise Send
// joins the FIFO queue of senders. It returns ctx.Err() if ctx is done before
// a slot is handed to it (also if ctx is done on entry), [ErrClosed] if this
// handle is closed (before or while it waits) or the receiver is; v is then
// not sent, the caller still has it, and Send holds no place in the queue.
// An unbounded channel's Send never waits.
func (s *MPSCSender[T]) Send(ctx context.Context, v T) error {
	// Fast path of a bounded channel: a live ctx, an open handle, a free
	// slot and nobody queued.
	c := s.c
	if c.capacity > 0 && ctx.Err() == nil && !s.h.closed.Load() && c.sem.acquireFast(1, 0) {
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
	if s.h.closed.Load() {
		return ErrClosed
	}
	c := s.c
	if c.capacity < 0 {
		return c.sendUnbounded(v)
	}
	// The receiver is often about to free a slot: yielding a few times, once
	// queued (so that no later sender takes the slot first), is cheaper than
	// parking and being woken.
	if err := c.sem.acquireSlowSpin(ctx, &s.h, 1, 0, mpscSpins); err != nil {
		return err
	}
	c.push(v)
	return nil
}

// mpscSpins is how many times Recv and a bounded Send yield and look again
// before they park.
const mpscSpins = 4

// sendUnbounded sends v on an unbounded channel.
func (c *mpscChan[T]) sendUnbounded(v T) error {
	if c.tail.Load()&mpscTailClosed != 0 {
		return ErrClosed // closed for a while: claim no slot
	}
	idx, closed := c.claim()
	if closed {
		// The close came between the load and the claim: the slot is ours
		// but v must not be delivered. A tombstone wakes nobody: a Recv
		// does not park on a claimed slot, and Ready does not fire for one.
		b := c.block(idx)
		off := idx & mpscBlockMask
		b.ready.Or(1<<off | 1<<(off+mpscBlockCap))
		return ErrClosed
	}
	c.write(idx, v)
	return nil
}

// TrySend sends v if there is room now, without waiting. It returns
// [ErrClosed] if this handle or the receiver is closed (checked first), and
// [ErrFull] if no slot is free or another sender waits for one; v is then not
// sent.
func (s *MPSCSender[T]) TrySend(v T) error {
	if s.h.closed.Load() {
		return ErrClosed
	}
	c := s.c
	if c.capacity < 0 {
		return c.sendUnbounded(v)
	}
	if err := c.sem.tryAcquire(1, 0); err != nil {
		return semFull(err)
	}
	c.push(v)
	return nil
}

// semFull turns the semaphore's "not now" into the channel's.
func semFull(err error) error {
	if err == ErrNoPermits {
		return ErrFull
	}
	return err
}

// Reserve reserves room for one value; it is ReserveN(ctx, 1).
func (s *MPSCSender[T]) Reserve(ctx context.Context) (MPSCPermit[T], error) {
	c := s.c
	if c.capacity > 0 && ctx.Err() == nil && !s.h.closed.Load() && c.sem.acquireFast(1, 0) {
		return MPSCPermit[T]{c: c, n: 1}, nil
	}
	return s.reserve(ctx, 1, false)
}

// ReserveN reserves room for n values, waiting for it on a bounded channel in
// the FIFO queue of Send. The returned [MPSCPermit] sends up to n values
// without waiting and without failing, even after the channel closes; its
// Release gives the rest back.
//
// While it waits it keeps the slots it got (so that smaller requests behind
// it cannot take them); if ctx ends first, or this handle or the receiver is
// closed, it gives them to the next sender. The errors come in this order: a
// done ctx; [ErrTooMany] if n is above MaxCapacity (unbounded: above
// MaxPermits, or more than MaxPermits slots reserved at once), which can
// never be met; [ErrClosed] if this handle or the receiver is closed (before
// or while it waits). ReserveN(ctx, 0) returns an empty permit at once unless
// one of those applies. An unbounded channel's ReserveN never waits. It
// panics if n is negative.
func (s *MPSCSender[T]) ReserveN(ctx context.Context, n int) (MPSCPermit[T], error) {
	return s.reserve(ctx, n, false)
}

// TryReserve reserves room for one value without waiting; it is
// TryReserveN(1).
func (s *MPSCSender[T]) TryReserve() (MPSCPermit[T], error) {
	return s.reserve(nil, 1, true)
}

// TryReserveN reserves room for n values if it is free now, without waiting.
// It returns [ErrTooMany] if n is above MaxCapacity (unbounded: above
// MaxPermits), then [ErrClosed] if this handle or the receiver is closed,
// then [ErrFull] if fewer than n slots are free or another sender waits. It
// panics if n is negative.
func (s *MPSCSender[T]) TryReserveN(n int) (MPSCPermit[T], error) {
	return s.reserve(nil, n, true)
}

// reserve is ReserveN (try false) and TryReserveN (try true, ctx nil).
func (s *MPSCSender[T]) reserve(ctx context.Context, n int, try bool) (MPSCPermit[T], error) {
	if n < 0 {
		panic("gate: MPSCSender: negative reserve count")
	}
	if !try {
		if err := ctx.Err(); err != nil {
			return MPSCPermit[T]{}, err
		}
	}
	c := s.c
	if n > MaxPermits || (c.capacity > 0 && int64(n) > c.capacity) {
		return MPSCPermit[T]{}, ErrTooMany
	}
	if s.h.closed.Load() {
		return MPSCPermit[T]{}, ErrClosed
	}
	var err error
	switch {
	case c.capacity < 0:
		err = c.reserveUnbounded(int64(n))
	case try:
		err = semFull(c.sem.tryAcquire(int64(n), 0))
	default:
		err = c.sem.acquireSlowSpin(ctx, &s.h, int64(n), 0, 0)
	}
	if err != nil {
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
	}
}

// Clone returns a new sender handle of the same channel, which keeps the
// channel open for the receiver until it too is closed. The clone of a
// closed handle, or of a channel whose senders are all closed, is closed.
func (s *MPSCSender[T]) Clone() *MPSCSender[T] {
	n := &MPSCSender[T]{c: s.c}
	open := &s.c.hs.open[senders]
	for k := open.Load(); ; k = open.Load() {
		if s.h.closed.Load() || k == 0 {
			n.h.closed.Store(true) // counted out already, or never counted in
			return n
		}
		if open.CompareAndSwap(k, k+1) {
			return n
		}
	}
}

// Close closes this handle: its calls in flight (a waiting Send, Reserve,
// ReserveN, WaitClosed) and all its later calls return [ErrClosed]; other
// handles' calls go on. When the last open handle closes, the receiver gets
// the values already sent and those sent on reserved slots, then ErrClosed.
// Permits reserved through the handle stay valid. Close is idempotent.
func (s *MPSCSender[T]) Close() {
	if !s.h.close() {
		return
	}
	c := s.c
	if c.capacity > 0 {
		c.sem.closeWaiters(&s.h, 0)
	}
	c.hs.q.closeWaiters(&s.h)
	if c.hs.done(senders) {
		c.closeSenders()
		c.wakeIfSettled()
	}
}

// IsClosed reports whether this handle is closed or the receiver is.
func (s *MPSCSender[T]) IsClosed() bool { return s.c.hs.isClosed(&s.h, receivers) }

// WaitClosed waits until the receiver is closed and returns nil. It returns
// ctx.Err() if ctx is done first (a done ctx is reported first), and
// [ErrClosed] if this handle is closed, before or while it waits.
func (s *MPSCSender[T]) WaitClosed(ctx context.Context) error {
	return s.c.hs.waitClosed(ctx, &s.h, receivers)
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
// even if the channel or the handle that reserved was closed since: the
// receiver still gets v. It panics if no reserved slot is left.
func (p *MPSCPermit[T]) Send(v T) {
	if p.n <= 0 {
		panic("gate: MPSCPermit.Send: no reserved slot left")
	}
	p.n--
	c := p.c
	c.push(v)
	if c.capacity < 0 {
		// The slot is claimed: the value keeps the receiver waiting now.
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
// or [UnboundedMPSC]. It is used by one goroutine at a time, except Close and
// IsClosed, which any goroutine may call at any time; one used by two
// goroutines at once may panic. Its Ready method lets a receive sit in a
// select statement beside other channels; its All method ranges over the
// values.
//
// An MPSCReceiver must not be copied after first use. In the terminology of
// the Go memory model, a send synchronizes before the receive that returns
// its value, and a receive on a bounded channel before the send or reserve
// that takes the slot it freed.
type MPSCReceiver[T any] struct {
	_ noCopy
	c *mpscChan[T]
	h handle
}

// Recv receives the next value, waiting until one is sent.
//
// It returns ctx.Err(), taking nothing, if ctx is done on entry or while it
// waits: Recv is cancel-safe. It returns [ErrClosed] once the channel is
// closed (by Close, or because every sender is closed), every value has been
// received and no reserved slot is left; and, once the values there are
// taken, when a Close from another goroutine ends its wait.
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

// recvSlow is the slow path of Recv and RecvMany: block boundaries,
// tombstones, closing and waiting.
func (r *MPSCReceiver[T]) recvSlow(ctx context.Context) (v T, err error) {
	c := r.c
	if c.rxBusy.Swap(true) {
		panic(mpscMisuse)
	}
	// A Close ends a wait that began before it; a Recv that begins after
	// it waits for the reserved slots still to be sent on (owner nil).
	owner := &r.h
	if owner.closed.Load() {
		owner = nil
	}
	ended := false // a Close ended the wait: take what is there, then return
	for spin := 0; ; spin++ {
		if err = ctx.Err(); err != nil {
			break
		}
		var st int
		if v, st = c.popSlow(true); st == popValue {
			c.popped(1)
			break
		}
		if st == popBusy {
			runtime.Gosched() // a sender is between its claim and its write
			continue
		}
		if ended || c.drained() {
			err = ErrClosed
			break
		}
		if spin < mpscSpins {
			// A sender on another CPU is often about to send: yielding a
			// few times is cheaper than parking and being woken.
			runtime.Gosched()
			continue
		}
		// Wait for a claimed slot or the settling of the channel; a
		// claimed slot is taken (or found a tombstone) in the next round.
		if err = c.rq.waitFor(ctx, owner, c.claimedOrSettled); err == ErrClosed {
			ended, owner = true, nil
		} else if err != nil {
			break
		}
	}
	c.rxBusy.Store(false)
	return v, err
}

// claimedOrSettled is the condition a Recv waits for: a slot claimed at or
// past index, or a settled channel. The receiver's goroutine calls it.
func (c *mpscChan[T]) claimedOrSettled() bool {
	return c.tail.Load()>>mpscTailShift != c.index || c.settled()
}

// RecvMany receives up to len(buf) values into buf and returns how many. It
// waits like Recv until at least one value is there, then takes the ones
// that are there without waiting for more (as io.Reader's Read does). It
// returns 0 and the error of Recv where Recv would fail (a done ctx first),
// and 0, nil at once if len(buf) is 0.
func (r *MPSCReceiver[T]) RecvMany(ctx context.Context, buf []T) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if len(buf) == 0 {
		return 0, nil
	}
	c := r.c
	if n := c.popMany(buf); n > 0 {
		return n, nil
	}
	v, err := r.recvSlow(ctx)
	if err != nil {
		return 0, err
	}
	buf[0] = v
	return 1 + c.popMany(buf[1:]), nil
}

// TryRecv receives the next value if there is one, without waiting. It
// returns [ErrEmpty] if none is there yet and [ErrClosed] if the channel is
// closed and drained, as Recv would. A send that has claimed the next slot
// but not finished writing it (a few instructions) is waited for, so that
// TryRecv never reports ErrEmpty while a later value is there.
func (r *MPSCReceiver[T]) TryRecv() (T, error) {
	c := r.c
	if v, ok := c.pop(); ok {
		c.popped(1)
		return v, nil
	}
	for {
		v, st := c.popSlow(true)
		switch {
		case st == popValue:
			c.popped(1)
			return v, nil
		case st == popBusy:
			runtime.Gosched() // the sender is between its claim and its write
		case c.drained():
			return v, ErrClosed
		default:
			return v, ErrEmpty
		}
	}
}

// peek reports whether TryRecv would return something other than ErrEmpty:
// a value or ErrClosed. Like TryRecv it waits for a slot being written.
func (c *mpscChan[T]) peek() bool {
	for {
		_, st := c.popSlow(false)
		if st != popBusy {
			return st == popValue || c.drained()
		}
		runtime.Gosched()
	}
}

// Ready returns a channel that becomes receivable once TryRecv would return
// a value or [ErrClosed], for use in a select statement beside other
// channels. Receive from it at most once, then call TryRecv, which will not
// return ErrEmpty; call Ready again before the next select. Anything sent
// after Ready makes the channel receivable, and so does a close once nothing
// is left to receive. Ready allocates nothing after its first call and
// starts no goroutine.
//
// With something there already Ready returns a closed channel; otherwise a
// channel kept with the receiver, made by its first Ready: a receiver whose
// first Ready ran outside a synctest bubble is not durably blocking in one.
func (r *MPSCReceiver[T]) Ready() <-chan struct{} {
	c := r.c
	return c.rd.arm(&c.rq, c.peek)
}

// Close closes the receiver: senders' waiting and later sends and reserves
// fail with [ErrClosed], their WaitClosed returns, and a Recv or RecvMany
// waiting in another goroutine returns ErrClosed. Values already sent and
// values sent on slots reserved before are still received; after them Recv
// returns ErrClosed. Close is idempotent, and any goroutine may call it.
func (r *MPSCReceiver[T]) Close() {
	if !r.h.close() {
		return
	}
	c := r.c
	// Senders fail first, so that a sender that saw IsClosed or WaitClosed
	// return cannot send any more.
	c.closeSenders()
	c.hs.done(receivers)
	c.rq.closeWaiters(&r.h)
	c.wakeIfSettled()
}

// IsClosed reports whether Close was called or every sender is closed, even
// if values are still to be received.
func (r *MPSCReceiver[T]) IsClosed() bool { return r.c.hs.isClosed(&r.h, senders) }

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

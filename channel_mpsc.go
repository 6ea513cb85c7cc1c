package gate

import (
	"context"
	"iter"
	"runtime"
	"sync/atomic"
)

// The multi-producer, single-consumer channel, after tokio's mpsc
// (tokio/src/sync/mpsc/{chan,list,block,bounded}.rs):
//
//   - storage: a lock-free list of 32-slot blocks. A send claims a slot index
//     with one atomic add on the tail word, writes the value and sets the
//     slot's ready bit; the receiver reads slots in index order and recycles
//     the blocks it is done with, so steady state allocates nothing;
//   - capacity: a bounded channel's core semaphore holds one permit per free
//     slot. A send (or Reserve) takes a permit before it claims a slot, and
//     the receiver releases it once it took the value out: senders wait FIFO
//     with no barging, and a reserved slot is capacity, not a position, so an
//     unsent MPSCPermit never holds up values sent after it. An unbounded
//     channel's semaphore (MaxPermits) counts only reserved slots;
//   - waiting: Recv waits on the receive queue rq (waitQueue.waitFor), Ready
//     is a readiness armed on it, and every send calls rq.notify after it
//     published its value. Handles and WaitClosed are the core's.
//
// The channel is closed for senders when the receiver or the last sender
// handle closes (a bit in the tail word, then sem.close), and settled once,
// in addition, no permit is out: the receiver reports ErrClosed once it is
// settled and drained.

const (
	mpscBlockCap  = 32 // slots per block: ready and tombstone bits share a word
	mpscBlockMask = mpscBlockCap - 1
	mpscReadyAll  = 1<<mpscBlockCap - 1 // every slot of a block written
)

// An mpscBlock holds mpscBlockCap consecutive slots. Once every slot is
// written, a sender moves tailBlock past it (advanceTail) and records in
// released the tail position it saw then (tokio's observed_tail_position):
// every sender that may still hold the block claimed its slot before that
// position, so once the receiver's index has passed it, they have all
// written their slots (which they do last) and the block may be reused.
type mpscBlock[T any] struct {
	start uint64 // index of slots[0]; written before the CAS that links the block
	next  atomic.Pointer[mpscBlock[T]]
	// ready: bit i is set (an atomic OR after the slot write) once slot i is
	// written; bit 32+i with it for a tombstone, a slot without a value.
	ready    atomic.Uint64
	released atomic.Uint64 // 0 while senders may use the block, then 1 + the position seen
	slots    [mpscBlockCap]T
}

// The tail word is the next index to claim << 1 | closed. An unbounded send,
// which takes no permit, fails if its claim returns the bit set, and fills
// its slot with a tombstone; other sends ignore the bit. It is set before
// sem.close, so a receiver that sees the semaphore closed knows that every
// later unbounded send fails.
const (
	mpscTailClosed = 1
	mpscTailShift  = 1
	mpscReleasing  = ^uint64(0) // in released: a sender is moving tailBlock past the block
	mpscSpins      = 4          // yields of a Recv or bounded Send before it parks
)

// mpscPad keeps the senders' hot words and the receiver's fields on
// different cache lines.
type mpscPad [64]byte

// mpscChan is the state shared by the handles of one channel.
type mpscChan[T any] struct {
	tail      atomic.Uint64                // senders: see the bit map above
	tailBlock atomic.Pointer[mpscBlock[T]] // the block of the tail, or one before it
	hint      atomic.Pointer[mpscBlock[T]] // a block at or past tailBlock; see findBlock
	walkers   atomic.Int32                 // senders holding a block reached through hint
	_         mpscPad

	head     *mpscBlock[T] // the receiver's: the block of index, or the one before it
	freeHead *mpscBlock[T] // oldest block not yet recycled
	index    uint64        // next slot to read
	lastFree *mpscBlock[T] // the block append linked last, nil if none or reused
	maxFree  uint64        // how many spare blocks recycle keeps after tailBlock
	rxBusy   atomic.Bool   // a receive is in its slow path: a second one is misuse
	_        mpscPad

	capacity int64     // -1 for an unbounded channel
	room     int64     // permits of sem: capacity, or MaxPermits if unbounded
	sem      sem       // one permit per free slot (unbounded: per unreserved one)
	rq       waitQueue // Recv, RecvMany and an armed Ready
	rd       readiness // Ready's channel
	hs       handles   // open senders and receiver; WaitClosed callers
}

func newMPSC[T any](capacity int64) (*MPSCSender[T], *MPSCReceiver[T]) {
	c := &mpscChan[T]{capacity: capacity, room: MaxPermits, maxFree: 3}
	b := new(mpscBlock[T])
	c.tailBlock.Store(b)
	c.hint.Store(b)
	c.head, c.freeHead = b, b
	if capacity > 0 {
		// Keep the blocks the capacity needs, as a Go channel keeps its
		// buffer; an unbounded channel a few, so a burst's memory goes back.
		c.maxFree = uint64(capacity+mpscBlockCap-1)/mpscBlockCap + 1
		c.room = capacity
	}
	c.sem.init(c.room, 0)
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
// single-consumer channel: its Send never waits.
func UnboundedMPSC[T any]() (*MPSCSender[T], *MPSCReceiver[T]) {
	return newMPSC[T](-1)
}

// claim claims the next slot and returns its index and whether the tail was
// closed at that moment.
func (c *mpscChan[T]) claim() (idx uint64, closed bool) {
	t := c.tail.Add(1<<mpscTailShift) - 1<<mpscTailShift
	return t >> mpscTailShift, t&mpscTailClosed != 0
}

// slot returns the block and offset of slot idx, which the caller claimed.
func (c *mpscChan[T]) slot(idx uint64) (*mpscBlock[T], uint64) {
	b := c.tailBlock.Load()
	if start := idx &^ mpscBlockMask; b.start != start {
		b = c.findBlock(b, start)
	}
	return b, idx & mpscBlockMask
}

// push claims a slot and writes v there, whatever the state of the channel
// (the caller holds room for it).
func (c *mpscChan[T]) push(v T) {
	idx, _ := c.claim()
	c.write(idx, v)
}

// write stores v in slot idx and wakes the receiver if it waits.
func (c *mpscChan[T]) write(idx uint64, v T) {
	b, off := c.slot(idx)
	b.slots[off] = v
	b.ready.Or(1 << off) // after the write: a load that sees the bit sees v
	c.rq.notify()        // after the OR: see waitQueue.waiting
}

// findBlock returns the block that starts at start, for a sender whose slot
// is there while b, the tailBlock it loaded, is an earlier block. tailBlock
// moves only past fully written blocks, so a sender preempted between its
// claim and its write holds it back while the others fill block after block;
// walking from it each time would cost them time linear in that distance. So
// the walk starts from hint (the last block a sender found, never behind
// tailBlock) when that is further on. A sender holding a block reached
// through hint is outside the release protocol, so it counts itself in
// walkers, and the receiver recycles nothing while walkers is not 0.
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

// advanceTail moves tailBlock past up to four fully written blocks and
// records in each the tail position seen after it left (see mpscBlock).
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
		c.tailBlock.Store(next)
		c.hint.CompareAndSwap(t, next) // hint is never behind tailBlock
		t.released.Store(c.tail.Load()>>mpscTailShift + 1)
	}
}

// grow appends a new block after b and returns b's successor: ours, or the
// one linked first by another sender (or append), after which ours goes a
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

// Results of popSlow.
const (
	popValue = iota // a value is there (and was taken, if asked)
	popEmpty        // no slot is claimed past index
	popBusy         // the slot at index is claimed but not written yet
)

// pop takes the value at index in the common case (no block boundary, no
// tombstone), small enough to be inlined.
func (c *mpscChan[T]) pop() (v T, ok bool) {
	i, b := c.index, c.head
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

// popSlow looks at the slot at index, moving head on and skipping tombstones
// as needed, and takes its value if take is set. It never waits.
func (c *mpscChan[T]) popSlow(take bool) (v T, st int) {
	for {
		i, b := c.index, c.head
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

func (c *mpscChan[T]) emptyOrBusy(i uint64) int {
	if c.tail.Load()>>mpscTailShift > i {
		return popBusy
	}
	return popEmpty
}

// look is popSlow that waits for a slot being written (a few instructions)
// and, taking a value, gives its slot back: what TryRecv and Ready see.
func (c *mpscChan[T]) look(take bool) (v T, st int) {
	for v, st = c.popSlow(take); st == popBusy; v, st = c.popSlow(take) {
		runtime.Gosched() // the sender is between its claim and its write
	}
	if take && st == popValue {
		c.popped(1)
	}
	return v, st
}

// recycle resets the blocks behind head that no sender can touch any more
// and appends them after the tail for reuse.
func (c *mpscChan[T]) recycle() {
	if c.walkers.Load() != 0 {
		return // a sender may hold any block through hint: later
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

// append links b at the end of the list if fewer than maxFree blocks follow
// tailBlock (otherwise b goes to the collector), looking for the end from
// the block it linked last, if senders have not passed it yet.
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

// mpscMisuse is the panic of a receiver used by two goroutines at once, seen
// by the slow path of a receive, or as more values received than sent.
const mpscMisuse = "gate: MPSCReceiver used by two goroutines at once; guard it with a Mutex or fan out to several channels"

// popped gives the slots of n values taken back to a bounded channel's
// capacity: to the oldest queued senders first.
func (c *mpscChan[T]) popped(n int64) {
	if c.capacity > 0 {
		c.sem.release(n, 0, c.capacity, mpscMisuse)
	}
}

// popMany takes up to len(buf) values that are there now, gives their slots
// back in one release, and returns how many it took.
func (c *mpscChan[T]) popMany(buf []T) int {
	n := 0
	for ; n < len(buf); n++ {
		v, ok := c.pop()
		if !ok {
			var st int
			if v, st = c.popSlow(true); st != popValue {
				break
			}
		}
		buf[n] = v
	}
	if n > 0 {
		c.popped(int64(n))
	}
	return n
}

// closeSenders closes the channel for senders (twice is harmless): later and
// queued sends and reserves fail; reserved slots may still be sent on.
func (c *mpscChan[T]) closeSenders() {
	c.tail.Or(mpscTailClosed) // first: see the tail word
	c.sem.close()
}

// settled reports whether the channel is closed for senders and every permit
// is back: only what is claimed can still arrive (bounded: nothing is left).
// Any goroutine may call it.
func (c *mpscChan[T]) settled() bool {
	return c.sem.closed() && c.sem.available(0) == c.room
}

// drained reports, for the receiver, whether the channel is settled and it
// has taken everything. The tail is loaded after the semaphore: a permit
// send claims its slot before it gives its permit back.
func (c *mpscChan[T]) drained() bool {
	return c.settled() && (c.capacity > 0 || c.tail.Load()>>mpscTailShift == c.index)
}

// wakeIfSettled wakes a waiting Recv and an armed Ready once the channel is
// settled (a close, a reserved slot given back).
func (c *mpscChan[T]) wakeIfSettled() {
	if c.rq.waiting.Load() != 0 && c.settled() {
		c.rq.wakeAll()
	}
}

// An MPSCSender is a sending handle of an mpsc channel made by [MPSC] or
// [UnboundedMPSC]. Any number of goroutines may use one at once; Clone makes
// more handles of the same channel, each closed on its own.
//
// Values are received in the order their sends claimed a slot: the order of
// one goroutine's sends, and FIFO among senders that waited for room. On a
// bounded channel senders that find it full wait in a FIFO queue; TrySend and
// TryReserve never take a slot ahead of a queued sender. The receiver gets
// ErrClosed once every sender handle is closed and it has taken everything.
//
// An MPSCSender must not be copied after first use. In the terminology of the
// Go memory model, a send synchronizes before the receive of its value.
type MPSCSender[T any] struct {
	_ noCopy
	c *mpscChan[T]
	h handle
}

// Send sends v, waiting for room on a bounded channel (FIFO among senders).
// It returns ctx.Err() if ctx is done on entry or before a slot is handed to
// it, and [ErrClosed] if this handle or the receiver is closed, before or
// while it waits; v is then not sent and Send keeps no place in the queue.
// An unbounded channel's Send never waits.
func (s *MPSCSender[T]) Send(ctx context.Context, v T) error {
	c := s.c
	if c.capacity > 0 && ctx.Err() == nil && !s.h.closed.Load() && c.sem.acquireFast(1, 0) {
		c.push(v)
		return nil
	}
	return s.sendSlow(ctx, v)
}

// sendSlow is the rest of Send, outlined so that the fast path is inlined.
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
	// The receiver is often about to free a slot: yielding a few times once
	// queued (so no later sender takes the slot first) beats parking.
	if err := c.sem.acquireSlowSpin(ctx, &s.h, 1, 0, mpscSpins); err != nil {
		return err
	}
	c.push(v)
	return nil
}

// sendUnbounded sends v on an unbounded channel, unless it is closed.
func (c *mpscChan[T]) sendUnbounded(v T) error {
	if c.tail.Load()&mpscTailClosed != 0 {
		return ErrClosed // closed for a while: claim no slot
	}
	idx, closed := c.claim()
	if !closed {
		c.write(idx, v)
		return nil
	}
	// Closed between the load and the claim: the slot gets a tombstone. It
	// wakes nobody: Recv does not park on a claimed slot, Ready waits for it.
	b, off := c.slot(idx)
	b.ready.Or(1<<off | 1<<(off+mpscBlockCap))
	return ErrClosed
}

// TrySend sends v if there is room now, without waiting. It returns
// [ErrClosed] if this handle or the receiver is closed (checked first), and
// [ErrFull] if no slot is free or another sender waits; v is then not sent.
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
	return s.reserve(ctx, 1, false)
}

// ReserveN reserves room for n values, waiting for it in Send's FIFO queue
// on a bounded channel. The [MPSCPermit] sends up to n values without waiting
// or failing, even after a close; its Release gives the rest back. While it
// waits it keeps the slots it got, so smaller requests behind it cannot take
// them; if it fails they go to the next sender.
//
// The errors come in this order: a done ctx (on entry or while it waits);
// [ErrTooMany] if n is above MaxCapacity (unbounded: above MaxPermits, also
// counting the slots reserved now), which can never be met; [ErrClosed] if
// this handle or the receiver is closed, before or while it waits.
// ReserveN(ctx, 0) returns an empty permit unless one of those applies. An
// unbounded channel's ReserveN never waits. It panics if n is negative.
func (s *MPSCSender[T]) ReserveN(ctx context.Context, n int) (MPSCPermit[T], error) {
	return s.reserve(ctx, n, false)
}

// TryReserve reserves room for one value without waiting; it is
// TryReserveN(1).
func (s *MPSCSender[T]) TryReserve() (MPSCPermit[T], error) { return s.reserve(nil, 1, true) }

// TryReserveN reserves room for n values if it is free now, without waiting.
// It returns [ErrTooMany] as ReserveN does, then [ErrClosed] if this handle
// or the receiver is closed, then [ErrFull] if fewer than n slots are free
// or another sender waits. It panics if n is negative.
func (s *MPSCSender[T]) TryReserveN(n int) (MPSCPermit[T], error) { return s.reserve(nil, n, true) }

// reserve is ReserveN (try false) and TryReserveN (try true, ctx nil).
func (s *MPSCSender[T]) reserve(ctx context.Context, n int, try bool) (MPSCPermit[T], error) {
	if n < 0 {
		panic("gate: MPSCSender: negative reserve count")
	}
	if !try && ctx.Err() != nil {
		return MPSCPermit[T]{}, ctx.Err()
	}
	c := s.c
	var err error
	switch {
	case n > MaxPermits || (c.capacity > 0 && int64(n) > c.capacity):
		err = ErrTooMany
	case s.h.closed.Load():
		err = ErrClosed
	case c.capacity > 0 && !try:
		if n == 0 || !c.sem.acquireFast(int64(n), 0) {
			err = c.sem.acquireSlowSpin(ctx, &s.h, int64(n), 0, 0)
		}
	default: // TryReserveN, or an unbounded channel, which never waits
		if err = c.sem.tryAcquire(int64(n), 0); err == ErrNoPermits && c.capacity < 0 {
			err = ErrTooMany // more than MaxPermits reserved at once
		}
		err = semFull(err)
	}
	if err != nil {
		return MPSCPermit[T]{}, err
	}
	return MPSCPermit[T]{c: c, n: int64(n)}, nil
}

// Clone returns a new sender handle of the same channel, which keeps the
// channel open for the receiver until it too is closed. The clone of a
// closed handle, or of a channel whose senders are all closed, is closed.
func (s *MPSCSender[T]) Clone() *MPSCSender[T] {
	n := &MPSCSender[T]{c: s.c}
	open := &s.c.hs.open[senders]
	for {
		k := open.Load()
		if s.h.closed.Load() || k == 0 {
			n.h.closed.Store(true) // s is closed, maybe closing: not counted in
			return n
		}
		if open.CompareAndSwap(k, k+1) {
			return n
		}
	}
}

// Close closes this handle: its calls in flight (a waiting Send, Reserve,
// ReserveN, WaitClosed) and all its later calls return [ErrClosed]; other
// handles' calls go on, and permits it reserved stay valid. Once every
// handle is closed, the receiver gets the values sent and those sent on
// reserved slots, then ErrClosed. Close is idempotent.
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

// WaitClosed waits until the receiver is closed and returns nil. A done ctx
// (first) returns ctx.Err(); a Close of this handle, before or while it
// waits, [ErrClosed].
func (s *MPSCSender[T]) WaitClosed(ctx context.Context) error {
	return s.c.hs.waitClosed(ctx, &s.h, receivers)
}

// Capacity returns the number of free slots now: 0 while a sender waits; -1
// for an unbounded channel.
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

// An MPSCPermit is room reserved in an mpsc channel for Count() values. Send
// uses one slot and never fails or waits; Release gives the unused ones
// back. Until then they count against the capacity, and a closed receiver
// waits for them before it reports [ErrClosed]. Its zero value holds none.
//
// An MPSCPermit must not be copied (a noCopy field makes go vet report
// copies; pass a *MPSCPermit): releasing two copies would return the slots
// twice. In the terminology of the Go memory model, a Send synchronizes
// before the receive of its value, and a Release before the reserve that
// gets the slots it returned.
type MPSCPermit[T any] struct {
	_ noCopy
	c *mpscChan[T]
	n int64
}

// Send sends v on one of the reserved slots. It never waits and never fails,
// even if the channel or the reserving handle closed since: the receiver
// still gets v. It panics if no reserved slot is left.
func (p *MPSCPermit[T]) Send(v T) {
	if p.n <= 0 {
		panic("gate: MPSCPermit.Send: no reserved slot left")
	}
	p.n--
	c := p.c
	c.push(v)
	if c.capacity < 0 {
		c.release(1) // after the claim: the value holds the receiver now
	}
}

// Release gives the unused reserved slots back and empties p. A second
// Release of the same variable does nothing.
func (p *MPSCPermit[T]) Release() {
	n, c := p.n, p.c
	if n <= 0 {
		return
	}
	p.n = 0
	c.release(n)
}

// release gives n reserved slots back.
func (c *mpscChan[T]) release(n int64) {
	c.sem.release(n, 0, c.room, "gate: MPSCPermit: more slots given back than reserved (a copied MPSCPermit?)")
	c.wakeIfSettled()
}

// Count returns the number of reserved slots left in p.
func (p *MPSCPermit[T]) Count() int { return int(p.n) }

// An MPSCReceiver is the receiving handle of an mpsc channel made by [MPSC]
// or [UnboundedMPSC]. It is used by one goroutine at a time (one used by two
// at once may panic), except Close and IsClosed, which any goroutine may call
// at any time. Ready lets a receive sit in a select beside other channels;
// All ranges over the values.
//
// An MPSCReceiver must not be copied after first use. In the terminology of
// the Go memory model, a send synchronizes before the receive of its value,
// and a receive on a bounded channel before the send that takes its slot.
type MPSCReceiver[T any] struct {
	_ noCopy
	c *mpscChan[T]
	h handle
}

// Recv receives the next value, waiting until one is sent. It returns
// ctx.Err(), taking nothing, if ctx is done on entry or while it waits. It
// returns [ErrClosed] once the channel is closed (by Close, or because every
// sender is) and drained, with no reserved slot left; and, once what is
// there is taken, when a Close from another goroutine ends its wait.
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

// recvSlow is the slow path of Recv and RecvMany.
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
		if v, st = c.look(true); st == popValue {
			break
		}
		if ended || c.drained() {
			err = ErrClosed
			break
		}
		if spin < mpscSpins {
			runtime.Gosched() // a sender on another CPU is often about to send
			continue
		}
		// Wait for a claimed slot, or the channel to settle.
		if err = c.rq.waitFor(ctx, owner, c.claimedOrSettled); err == ErrClosed {
			ended, owner = true, nil
		} else if err != nil {
			break
		}
	}
	c.rxBusy.Store(false)
	return v, err
}

// claimedOrSettled is what Recv waits for; the receiver's goroutine calls it.
func (c *mpscChan[T]) claimedOrSettled() bool {
	return c.tail.Load()>>mpscTailShift != c.index || c.settled()
}

// RecvMany receives up to len(buf) values into buf and returns how many. It
// waits like Recv for at least one, then takes those that are there without
// waiting for more (as io.Reader's Read does). It returns 0 and the error of
// Recv where Recv would fail (a done ctx first), and 0, nil at once if
// len(buf) is 0.
func (r *MPSCReceiver[T]) RecvMany(ctx context.Context, buf []T) (int, error) {
	if err := ctx.Err(); err != nil || len(buf) == 0 {
		return 0, err
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
// closed and drained, as Recv would. A send that claimed the next slot and
// is writing it (a few instructions) is waited for, so TryRecv never reports
// ErrEmpty while a later value is there.
func (r *MPSCReceiver[T]) TryRecv() (T, error) {
	c := r.c
	if v, ok := c.pop(); ok {
		c.popped(1)
		return v, nil
	}
	v, st := c.look(true)
	switch {
	case st == popValue:
		return v, nil
	case c.drained():
		return v, ErrClosed
	}
	return v, ErrEmpty
}

// peek reports whether TryRecv would return a value or ErrClosed.
func (c *mpscChan[T]) peek() bool {
	_, st := c.look(false)
	return st == popValue || c.drained()
}

// Ready returns a channel that becomes receivable once TryRecv would return
// a value or [ErrClosed], for a select beside other channels: anything sent
// after Ready makes it receivable, and so does a close once nothing is left.
// Receive from it at most once, then call TryRecv, which will not return
// ErrEmpty; call Ready again before the next select. It allocates nothing
// after its first call. With something there it returns a closed channel;
// otherwise one kept with the receiver, made by its first Ready (made
// outside a synctest bubble, it is not durably blocking inside one).
func (r *MPSCReceiver[T]) Ready() <-chan struct{} { return r.c.rd.arm(&r.c.rq, r.c.peek) }

// Close closes the receiver: senders' waiting and later sends and reserves
// fail with [ErrClosed], their WaitClosed returns, and a Recv or RecvMany
// waiting in another goroutine returns ErrClosed. Values sent before and
// values sent on slots reserved before are still received, then Recv returns
// ErrClosed. Close is idempotent, and any goroutine may call it.
func (r *MPSCReceiver[T]) Close() {
	if !r.h.close() {
		return
	}
	c := r.c
	c.closeSenders() // first: a sender that sees WaitClosed return can send no more
	c.hs.done(receivers)
	c.rq.closeWaiters(&r.h)
	c.wakeIfSettled()
}

// IsClosed reports whether Close was called or every sender is closed, even
// if values are still to be received.
func (r *MPSCReceiver[T]) IsClosed() bool { return r.c.hs.isClosed(&r.h, senders) }

// Len returns the number of values sent and not yet received (counting sends
// that are writing their value right now).
func (r *MPSCReceiver[T]) Len() int { return int(r.c.tail.Load()>>mpscTailShift - r.c.index) }

// Capacity returns the number of free slots now, or -1 for an unbounded
// channel.
func (r *MPSCReceiver[T]) Capacity() int { return r.c.freeSlots() }

// MaxCapacity returns the capacity the channel was made with, or -1 for an
// unbounded channel.
func (r *MPSCReceiver[T]) MaxCapacity() int { return int(r.c.capacity) }

// All returns an iterator over the values received, in order. It ends when
// the channel is closed and drained, or ctx is done; breaking out of the loop
// leaves the values not yet received in the channel.
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

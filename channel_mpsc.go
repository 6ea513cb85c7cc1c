package gate

import (
	"context"
	"iter"
	"runtime"
	"sync/atomic"
)

// The mpsc channel, after tokio's (tokio/src/sync/mpsc/{chan,list,block}.rs):
// a lock-free list of 32-slot blocks, recycled (no allocation in steady
// state); a send claims a slot with one atomic add on the tail word, writes it
// and sets its ready bit, and the receiver reads in index order. Capacity is
// the core semaphore, a permit per free slot (unbounded: MaxPermits, taken by
// reservations only), taken before the claim and given back after the take:
// senders queue FIFO with no barging, and a reserved slot is capacity, not a
// position. Recv waits on rq (waitFor), Ready arms on it, sends rq.notify.
// Closing sets a tail bit, then sem.close; settled: closed, every permit back.

// An mpscBlock holds mpscBlockCap slots. Once all are written, a sender moves
// tailBlock past it and records in released the tail it saw then (tokio's
// observed_tail_position): every sender that may hold the block claimed before
// it, so once the receiver passed it they are done and the block is reusable.
type mpscBlock[T any] struct {
	start    uint64 // index of slots[0]; written before the CAS that links the block
	next     atomic.Pointer[mpscBlock[T]]
	ready    atomic.Uint64 // bit i: slot i written (OR after the write); bit 32+i: a tombstone
	released atomic.Uint64 // 0 while senders may use the block, then 1 + the position seen
	slots    [mpscBlockCap]T
}

// The tail word is the next index << 1 | closed. A plain unbounded send (no
// permit) whose claim sees the bit fails and leaves a tombstone; it is set
// before sem.close, so once that is seen every later plain send fails.
const (
	mpscBlockCap   = 32 // slots per block: ready and tombstone bits share a word
	mpscBlockMask  = mpscBlockCap - 1
	mpscReadyAll   = 1<<mpscBlockCap - 1 // every slot of a block written
	mpscTailClosed = 1
	mpscTailShift  = 1
	mpscReleasing  = ^uint64(0) // in released: a sender is moving tailBlock past the block
	mpscSpins      = 4          // yields of a Recv or bounded Send before it parks
)

type mpscPad [64]byte // keeps the senders' and the receiver's words on separate lines

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
	rxBusy   atomic.Bool   // a receive waits: a second one is misuse
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
	if capacity > 0 { // keep the blocks it needs; unbounded: a few, a burst's memory goes back
		c.maxFree = uint64(capacity+mpscBlockCap-1)/mpscBlockCap + 1
		c.room = capacity
	}
	c.sem.init(c.room, 0)
	c.hs.add(senders)
	c.hs.add(receivers)
	return &MPSCSender[T]{c: c}, &MPSCReceiver[T]{c: c}
}

// MPSC returns the two ends of a multi-producer, single-consumer channel that
// holds up to capacity values. It panics unless 1 <= capacity <= MaxPermits.
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

// push claims a slot, writes v and wakes the receiver if it waits. A plain
// unbounded send fails if closed; closed just before its claim, it leaves a
// tombstone and wakes nobody (Recv does not park on a claimed slot).
func (c *mpscChan[T]) push(v T, plain bool) error {
	if plain && c.tail.Load()&mpscTailClosed != 0 {
		return ErrClosed // closed for a while: claim no slot
	}
	t := c.tail.Add(1<<mpscTailShift) - 1<<mpscTailShift
	idx := t >> mpscTailShift
	b := c.tailBlock.Load()
	if start := idx &^ mpscBlockMask; b.start != start {
		b = c.findBlock(b, start)
	}
	off := idx & mpscBlockMask
	if plain && t&mpscTailClosed != 0 {
		b.ready.Or(1<<off | 1<<(off+mpscBlockCap))
		return ErrClosed
	}
	b.slots[off] = v
	b.ready.Or(1 << off) // after the write: a load that sees the bit sees v
	// After the OR; a Ready armed past idx stays armed (readiness.arm).
	c.rq.notifyFresh(func(stamp int64) bool { return uint64(stamp) > idx })
	return nil
}

// findBlock returns the block at start, past b. A sender preempted between
// claim and write holds tailBlock back while others fill blocks, so the walk
// starts at hint (the last block found, never behind it) if further. Such a
// walker is outside the release protocol: walkers counts it, halting recycle.
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

// advanceTail moves tailBlock past up to four full blocks (see mpscBlock).
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

// grow links a new block after b and returns b's successor: ours, or one
// linked first, after which ours goes a few hops on, or is dropped.
func (c *mpscChan[T]) grow(b *mpscBlock[T]) *mpscBlock[T] {
	n := new(mpscBlock[T])
	for cur, i := b, 0; i < 4; cur, i = cur.next.Load(), i+1 {
		n.start = cur.start + mpscBlockCap
		if cur.next.CompareAndSwap(nil, n) {
			break
		}
	}
	return b.next.Load()
}

const ( // results of popSlow
	popValue = iota // a value is there (and was taken, if asked)
	popEmpty        // no slot is claimed past index
	popBusy         // the slot at index is claimed but not written yet
)

// pop takes the value at index if no block boundary or tombstone is in the
// way: small enough to be inlined.
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

// popSlow looks at the slot at index, moving head on and skipping tombstones,
// and takes its value if take is set. It never waits.
func (c *mpscChan[T]) popSlow(take bool) (v T, st int) {
	for {
		i, b := c.index, c.head
		off := i & mpscBlockMask
		if b.start != i-off {
			if next := b.next.Load(); next != nil {
				c.head = next
				c.recycle()
				continue
			}
		} else if bits := b.ready.Load(); bits&(1<<(off+mpscBlockCap)) != 0 {
			c.index = i + 1 // a tombstone: skipping it changes nothing visible
			continue
		} else if bits&(1<<off) != 0 {
			if take {
				v = b.slots[off]
				var zero T
				b.slots[off] = zero
				c.index = i + 1
			}
			return v, popValue
		}
		if c.tail.Load()>>mpscTailShift > i {
			return v, popBusy
		}
		return v, popEmpty
	}
}

// look is popSlow that waits out a slot being written and gives back the slot
// of a value it takes: what TryRecv and Ready see.
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
// and appends them for reuse.
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

// append links b at the end if fewer than maxFree blocks follow tailBlock
// (else b is dropped), from the block it linked last if still ahead.
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

// mpscMisuse: two receives at once, or more values received than sent.
const mpscMisuse = "gate: MPSCReceiver used by two goroutines at once; guard it with a Mutex or fan out to several channels"

// popped gives the slots of n values taken back, to queued senders first.
func (c *mpscChan[T]) popped(n int64) {
	if c.capacity > 0 {
		c.sem.release(n, 0, c.capacity, mpscMisuse)
	}
}

// popMany takes up to len(buf) values there now, with one release.
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

// closeSenders fails later and queued sends and reserves (twice is harmless).
func (c *mpscChan[T]) closeSenders() {
	c.tail.Or(mpscTailClosed) // first: see the tail word
	c.sem.close()
}

// settled: closed for senders, every permit back; only claimed slots are left.
func (c *mpscChan[T]) settled() bool {
	return c.sem.closed() && c.sem.available(0) == c.room
}

// drained: settled and all taken. The tail is loaded after the semaphore: a
// permit send claims before it gives its permit back.
func (c *mpscChan[T]) drained() bool {
	return c.settled() && (c.capacity > 0 || c.tail.Load()>>mpscTailShift == c.index)
}

// wakeIfSettled wakes a Recv or Ready after a close or a release settled it.
func (c *mpscChan[T]) wakeIfSettled() {
	if c.rq.waiting.Load() != 0 && c.settled() {
		c.rq.wakeAll()
	}
}

// An MPSCSender is a sending handle of an mpsc channel, safe for any number
// of goroutines; Clone makes more, each closed on its own. Values arrive in
// the order their sends claimed a slot (waiting senders: FIFO; a Try* never
// takes a slot a queued sender waits for). It must not be copied after first
// use. In the Go memory model, a send synchronizes before its receive.
type MPSCSender[T any] struct {
	_ noCopy
	c *mpscChan[T]
	h handle
}

// Send sends v, waiting for room FIFO (unbounded: never). It returns ctx.Err()
// if ctx is done on entry or before a slot is handed to it, [ErrClosed] if this
// handle or the receiver closes, before or meanwhile: v is then not sent.
func (s *MPSCSender[T]) Send(ctx context.Context, v T) error {
	c := s.c
	if c.capacity > 0 && ctx.Err() == nil && !s.h.closed.Load() && c.sem.acquireFast(1, 0) {
		return c.push(v, false)
	}
	return s.sendSlow(ctx, v, false)
}

// TrySend sends v if there is room now. It returns [ErrClosed] as Send does,
// then [ErrFull] if no slot is free or a sender waits; v is then not sent.
func (s *MPSCSender[T]) TrySend(v T) error { return s.sendSlow(nil, v, true) }

// sendSlow is Send past its fast path, and TrySend (try, ctx nil).
func (s *MPSCSender[T]) sendSlow(ctx context.Context, v T, try bool) error {
	if !try && ctx.Err() != nil {
		return ctx.Err()
	}
	c := s.c
	var err error
	switch {
	case s.h.closed.Load():
		return ErrClosed
	case c.capacity < 0:
		return c.push(v, true)
	case try:
		err = noRoom(c.sem.tryAcquire(1, 0), ErrFull)
	default:
		// Yield a few times once queued (keeping its place): the receiver
		// is often about to free a slot.
		err = c.sem.acquireSlowSpin(ctx, &s.h, 1, 0, mpscSpins)
	}
	if err != nil {
		return err
	}
	return c.push(v, false)
}

// noRoom turns the semaphore's "not now" into the channel's.
func noRoom(err, full error) error {
	if err == ErrNoPermits {
		return full
	}
	return err
}

// Reserve is ReserveN(ctx, 1).
func (s *MPSCSender[T]) Reserve(ctx context.Context) (MPSCPermit[T], error) {
	return s.reserve(ctx, 1, false)
}

// ReserveN reserves room for n values, waiting in Send's queue (unbounded:
// never) and keeping the slots it gets meanwhile, so smaller requests behind
// cannot take them. The [MPSCPermit] sends without waiting or failing, even
// after a close. Errors, in order: a done ctx (its slots go on); [ErrTooMany]
// if n > MaxCapacity (unbounded: over MaxPermits reserved); [ErrClosed] as
// Send. n == 0 returns an empty permit unless those apply; n < 0 panics.
func (s *MPSCSender[T]) ReserveN(ctx context.Context, n int) (MPSCPermit[T], error) {
	return s.reserve(ctx, n, false)
}

// TryReserve is TryReserveN(1).
func (s *MPSCSender[T]) TryReserve() (MPSCPermit[T], error) { return s.reserve(nil, 1, true) }

// TryReserveN reserves room for n values if free now: [ErrTooMany] and
// [ErrClosed] as ReserveN, then [ErrFull]. n < 0 panics.
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
		err = noRoom(c.sem.tryAcquire(int64(n), 0), ErrFull)
		if err == ErrFull && c.capacity < 0 {
			err = ErrTooMany // more than MaxPermits reserved at once
		}
	}
	if err != nil {
		return MPSCPermit[T]{}, err
	}
	return MPSCPermit[T]{c: c, n: int64(n)}, nil
}

// Clone returns a new sender handle, keeping the channel open until it too is
// closed; the clone of a closed handle (or of a closed channel) is closed.
func (s *MPSCSender[T]) Clone() *MPSCSender[T] {
	n := &MPSCSender[T]{c: s.c}
	open := &s.c.hs.open[senders]
	for k := open.Load(); !s.h.closed.Load() && k > 0; k = open.Load() {
		if open.CompareAndSwap(k, k+1) {
			return n
		}
	}
	n.h.closed.Store(true) // s is closed, or closing as the last: not counted in
	return n
}

// Close closes this handle, idempotently: its calls in flight (a waiting Send,
// Reserve, ReserveN, WaitClosed) and later calls return [ErrClosed]; other
// handles go on, its permits stay valid. After the last handle the receiver
// gets what was sent and what reserved slots send, then ErrClosed.
func (s *MPSCSender[T]) Close() {
	if !s.h.close() {
		return
	}
	c := s.c
	c.sem.closeWaiters(&s.h, 0)
	c.hs.q.closeWaiters(&s.h)
	if c.hs.done(senders) {
		c.closeSenders()
		c.wakeIfSettled()
	}
}

// IsClosed reports whether this handle is closed or the receiver is.
func (s *MPSCSender[T]) IsClosed() bool { return s.c.hs.isClosed(&s.h, receivers) }

// WaitClosed waits until the receiver is closed (nil). It returns ctx.Err()
// if ctx is done (first), [ErrClosed] if this handle is, before or meanwhile.
func (s *MPSCSender[T]) WaitClosed(ctx context.Context) error {
	return s.c.hs.waitClosed(ctx, &s.h, receivers)
}

// Capacity returns the free slots now (0 while a sender waits), -1 if unbounded.
func (s *MPSCSender[T]) Capacity() int { return s.c.freeSlots() }

// MaxCapacity returns the capacity the channel was made with, -1 if unbounded.
func (s *MPSCSender[T]) MaxCapacity() int { return int(s.c.capacity) }

func (c *mpscChan[T]) freeSlots() int {
	if c.capacity < 0 {
		return -1
	}
	return int(c.sem.available(0))
}

// An MPSCPermit is room reserved for Count() values, counted against the
// capacity (a closed receiver waits for them) until sent or released. The
// zero value holds none. It must not be copied (pass a *MPSCPermit): two
// releases would return the slots twice. In the Go memory model, a Send
// synchronizes before its receive, a Release before the reserve it serves.
type MPSCPermit[T any] struct {
	_ noCopy
	c *mpscChan[T]
	n int64
}

// Send sends v on a reserved slot, never waiting or failing, even after a
// close: the receiver gets v. It panics if no reserved slot is left.
func (p *MPSCPermit[T]) Send(v T) {
	if p.n <= 0 {
		panic("gate: MPSCPermit.Send: no reserved slot left")
	}
	p.n--
	c := p.c
	_ = c.push(v, false)
	if c.capacity < 0 {
		c.release(1) // after the claim: the value holds the receiver now
	}
}

// Release gives the unused slots back and empties p; again, it does nothing.
func (p *MPSCPermit[T]) Release() {
	if n := p.n; n > 0 {
		p.n = 0
		p.c.release(n)
	}
}

// release gives n reserved slots back.
func (c *mpscChan[T]) release(n int64) {
	c.sem.release(n, 0, c.room, "gate: MPSCPermit: more slots given back than reserved (a copied MPSCPermit?)")
	c.wakeIfSettled()
}

// Count returns the number of reserved slots left in p.
func (p *MPSCPermit[T]) Count() int { return int(p.n) }

// An MPSCReceiver is the receiving handle of an mpsc channel, used by one
// goroutine at a time (two at once may panic) except Close and IsClosed. It
// must not be copied after first use. In the Go memory model, a send
// synchronizes before its receive, a receive before the send reusing its slot.
type MPSCReceiver[T any] struct {
	_ noCopy
	c *mpscChan[T]
	h handle
}

// Recv receives the next value, waiting until one is sent. It returns
// ctx.Err(), taking nothing, if ctx is done on entry or while it waits, and
// [ErrClosed] once the channel is closed (Close, or every sender closed) and
// drained with no reserved slot left, or when a Close ends its wait.
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
	// A Close wakes a wait on owner (before or during it, waitFor says
	// ErrClosed); the receive goes on without it: ErrClosed once drained.
	owner := &r.h
	for spin := 0; ; spin++ {
		if err = ctx.Err(); err != nil {
			break
		}
		var st int
		if v, st = c.look(true); st == popValue {
			break
		}
		if c.drained() {
			err = ErrClosed
			break
		}
		if spin < mpscSpins {
			runtime.Gosched() // a sender on another CPU is often about to send
			continue
		}
		// Wait for a claimed slot, or the channel to settle.
		if c.rxBusy.Swap(true) {
			panic(mpscMisuse)
		}
		err = c.rq.waitFor(ctx, owner, c.claimedOrSettled)
		c.rxBusy.Store(false)
		if err == ErrClosed {
			owner, err = nil, nil // our Close: on until drained
		} else if err != nil {
			break
		}
	}
	return v, err
}

// claimedOrSettled is what Recv waits for; the receiver's goroutine calls it.
func (c *mpscChan[T]) claimedOrSettled() bool {
	return c.tail.Load()>>mpscTailShift != c.index || c.settled()
}

// RecvMany receives into buf what is there, waiting like Recv for one, and
// returns how many (0 and Recv's error; len(buf) == 0: 0, nil at once).
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

// TryRecv receives the next value if there is one: [ErrEmpty] if none is
// there yet (a slot being written is waited for), [ErrClosed] as Recv.
func (r *MPSCReceiver[T]) TryRecv() (T, error) {
	c := r.c
	if v, ok := c.pop(); ok {
		c.popped(1)
		return v, nil
	}
	v, st := c.look(true)
	if st == popValue {
		return v, nil
	} else if c.drained() {
		return v, ErrClosed
	}
	return v, ErrEmpty
}

// peek reports whether TryRecv would return a value or ErrClosed.
func (c *mpscChan[T]) peek() bool {
	_, st := c.look(false)
	return st == popValue || c.drained()
}

// Ready returns a channel receivable once TryRecv would return a value or
// [ErrClosed], for a select: receive from it once, then TryRecv; call Ready
// again before the next select. Only the first call allocates (the channel;
// made outside a synctest bubble, it is not durably blocking inside one).
func (r *MPSCReceiver[T]) Ready() <-chan struct{} {
	return r.c.rd.arm(&r.c.rq, r.c.peek, int64(r.c.index))
}

// Close closes the receiver (idempotent, any goroutine): sends, reserves and a
// waiting Recv get [ErrClosed], WaitClosed returns; what was sent, and what
// reserved slots send, is still received first.
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

// IsClosed reports whether Close was called or every sender is closed.
func (r *MPSCReceiver[T]) IsClosed() bool { return r.c.hs.isClosed(&r.h, senders) }

// Len returns the number of values sent (or being written) and not received.
func (r *MPSCReceiver[T]) Len() int { return int(r.c.tail.Load()>>mpscTailShift - r.c.index) }

// Capacity returns the free slots now, -1 if unbounded.
func (r *MPSCReceiver[T]) Capacity() int { return r.c.freeSlots() }

// MaxCapacity returns the capacity the channel was made with, -1 if unbounded.
func (r *MPSCReceiver[T]) MaxCapacity() int { return int(r.c.capacity) }

// All returns an iterator over the values received, until the channel is
// closed and drained or ctx is done; a break leaves the rest in the channel.
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

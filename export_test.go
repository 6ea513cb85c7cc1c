package gate

// Test-only access to the core's queue, for tests in package gate_test that
// must know a goroutine is parked before they act ("still blocked" / "woke").

// queueLen returns how many goroutines are queued on s.
func (s *sem) queueLen() int { return s.q.queueLen() }

// headGrant returns the partial grant held by the head waiter (0 if none).
func (s *sem) headGrant() int {
	s.q.mu.Lock()
	defer s.q.mu.Unlock()
	if s.q.head == nil {
		return 0
	}
	return int(s.q.head.n - s.q.head.needed)
}

// SemaphoreWaiters returns how many goroutines wait on s.
func SemaphoreWaiters(s *Semaphore) int { return s.s.queueLen() }

// SemaphoreHeadGrant returns the permits already handed to the oldest waiter
// of s, which it keeps until its request is met.
func SemaphoreHeadGrant(s *Semaphore) int { return s.s.headGrant() }

// MutexWaiters returns how many goroutines wait on m.
func MutexWaiters[T any](m *Mutex[T]) int { return m.s.queueLen() }

// MutexLocked reports whether m is held.
func MutexLocked[T any](m *Mutex[T]) bool { return m.s.available(1) == 0 }

// RWMutexWaiters returns how many goroutines wait on rw.
func RWMutexWaiters[T any](rw *RWMutex[T]) int { return rw.s.queueLen() }

// RWMutexAvailable returns the free permits of rw: max readers minus the
// readers holding it; 0 while a writer holds it or anyone is queued.
func RWMutexAvailable[T any](rw *RWMutex[T]) int { return int(rw.s.available(rw.max())) }

// RWMutexMaxReaders returns the number of readers rw admits.
func RWMutexMaxReaders[T any](rw *RWMutex[T]) int { return int(rw.max()) }

// CopyPermit returns a copy of p that holds the same permits: the misuse
// that Permit's noCopy makes go vet report, for tests of what it does.
func CopyPermit(p *Permit) Permit { return Permit{sem: p.sem, n: p.n} }

// Test-only hooks used by the model tests in model_test.go.

// ModelRWMutexHeadGrant returns the permits already handed to the oldest
// waiter of rw (0 if nobody waits), which it keeps until its request is met:
// a writer waiting for the readers ahead of it to leave collects their permits
// here.
func ModelRWMutexHeadGrant[T any](rw *RWMutex[T]) int { return rw.s.headGrant() }

// Test-only access to Notify and Barrier, for tests in package gate_test that
// must know a goroutine is queued or parked before they act.

// NotifyQueueLen returns how many waiters n has: goroutines in Wait and
// enabled Notifieds not yet notified.
func NotifyQueueLen(n *Notify) int { return n.q.queueLen() }

// NotifyHasPermit reports whether n holds the stored permit.
func NotifyHasPermit(n *Notify) bool {
	return n.state.Load()&notifyNotified != 0
}

// NotifyState returns n's state (0 empty, 1 somebody waits, 2 the permit is
// stored; 3 would break the invariant) and its NotifyWaiters generation.
func NotifyState(n *Notify) (state int, gen uint64) {
	s := n.state.Load()
	if s&notifyWaiting != 0 {
		state = 1
	}
	if s&notifyNotified != 0 {
		state |= 2
	}
	return state, s >> notifyGenShift
}

// BarrierArrived returns how many goroutines wait in b's current generation.
func BarrierArrived(b *Barrier) int {
	b.q.mu.Lock()
	defer b.q.mu.Unlock()
	return int(b.q.waiting.Load())
}

// Test-only access to the queues of OnceCell and SetOnce, for tests in package
// gate_test that must know a goroutine is parked before they act.

// onceQueueLen returns how many goroutines are queued on q: its count of
// waiters, which changes under q.mu with the list.
func onceQueueLen(q *waitQueue) int { return int(q.waiting.Load()) }

// OnceCellInitWaiters returns how many goroutines wait in GetOrInit or
// GetOrTryInit for the running initializer of c (not counting it).
func OnceCellInitWaiters[T any](c *OnceCell[T]) int { return c.s.queueLen() }

// OnceCellWaiters returns how many goroutines wait in c.Wait.
func OnceCellWaiters[T any](c *OnceCell[T]) int { return onceQueueLen(&c.w) }

// OnceCellInitializing reports whether an initializer (or a Set) holds c's
// initialization permit.
func OnceCellInitializing[T any](c *OnceCell[T]) bool {
	return c.v.Load() == nil && c.s.available(1) == 0
}

// OnceCellClosed reports whether c's initialization semaphore is closed,
// which must hold exactly while c is set.
func OnceCellClosed[T any](c *OnceCell[T]) bool { return c.s.closed() }

// SetOnceWaiters returns how many goroutines wait in c.Wait.
func SetOnceWaiters[T any](c *SetOnce[T]) int { return onceQueueLen(&c.q) }

// Test-only access to a broadcast channel's wait queues, for tests in package
// gate_test that must know a goroutine is queued before they act.

// BroadcastSendWaiters returns how many SendWait calls wait on s's channel:
// the one holding the turn and waiting for the oldest slot, and those in
// line for the turn.
func BroadcastSendWaiters[T any](s *BroadcastSender[T]) int {
	return int(s.c.slotQ.waiting.Load() + s.c.turn.q.waiting.Load())
}

// BroadcastRecvWaiters returns how many receivers of s's channel wait for a
// value: parked in Recv, or armed by Ready.
func BroadcastRecvWaiters[T any](s *BroadcastSender[T]) int { return int(s.c.recvQ.waiting.Load()) }

// BroadcastCloseWaiters returns how many WaitClosed calls wait on s's channel.
func BroadcastCloseWaiters[T any](s *BroadcastSender[T]) int { return int(s.c.hs.q.waiting.Load()) }

// BroadcastPosition returns the position of r's next value: the number of
// values sent on the channel before it. Call it from r's goroutine.
func BroadcastPosition[T any](r *BroadcastReceiver[T]) uint64 { return r.cur.Load() >> 1 }

// Test-only access to an mpsc channel's insides, for tests in package
// gate_test that must know a sender is queued, or how many blocks the
// channel's list holds.

// MPSCSenderWaiters returns how many senders (Send, Reserve, ReserveN) wait
// for room on the channel of s.
func MPSCSenderWaiters[T any](s *MPSCSender[T]) int { return s.c.sem.queueLen() }

// MPSCHeadGrant returns the slots already handed to the oldest waiting
// sender of the channel of s, which it keeps until its request is met.
func MPSCHeadGrant[T any](s *MPSCSender[T]) int { return s.c.sem.headGrant() }

// MPSCBlocks returns the number of blocks linked in the list of the channel
// of r, from the oldest one not yet recycled to the last spare. Call it from
// the receiver's goroutine while no sender runs.
func MPSCBlocks[T any](r *MPSCReceiver[T]) int {
	n := 0
	for b := r.c.freeHead; b != nil; b = b.next.Load() {
		n++
	}
	return n
}

// MPSCReceiverParked reports whether the receiver of the channel of s is
// parked in Recv or has armed Ready.
func MPSCReceiverParked[T any](s *MPSCSender[T]) bool { return s.c.rq.waiting.Load() != 0 }

// Test-only access to a oneshot's state, for tests in package gate_test that
// port tokio's is_empty / is_terminated checks and must know that a goroutine
// is parked before they act.

// OneshotHasValue reports whether rx's channel holds a sent value that has
// not been received (tokio's !is_empty).
func OneshotHasValue[T any](rx *OneshotReceiver[T]) bool {
	return rx.c.state.Load()&oneshotValue != 0
}

// OneshotTerminated reports whether rx has reported the value or ErrClosed,
// or was closed (tokio's is_terminated, with Close): it has nothing left to
// receive but a value sent before its Close.
func OneshotTerminated[T any](rx *OneshotReceiver[T]) bool {
	return rx.c.state.Load()&oneshotRxClosed != 0
}

// OneshotRecvArmed reports whether the receiver waits on the queue: a parked
// Recv, or a Ready whose channel is not yet receivable.
func OneshotRecvArmed[T any](rx *OneshotReceiver[T]) bool {
	c := &rx.c
	return c.q.count(func(w *waiter) bool { return w.token || w.owner == &c.rx }) != 0
}

// OneshotCloseWaiters returns how many WaitClosed calls are queued on tx.
func OneshotCloseWaiters[T any](tx *OneshotSender[T]) int {
	return tx.c.q.count(func(w *waiter) bool { return !w.token && w.owner == nil })
}

// Test-only access to a watch channel's queues and version, for tests in
// package gate_test that must know a goroutine is parked before they act.

// queueLen returns how many waiters are on q.
func (q *waitQueue) queueLen() int { return q.count(func(*waiter) bool { return true }) }

// count returns how many waiters on q match, under q.mu.
func (q *waitQueue) count(match func(w *waiter) bool) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for w := q.head; w != nil; w = w.next {
		if match(w) {
			n++
		}
	}
	return n
}

// WatchWaiters returns how many receivers of r's channel wait for a new
// version: parked in Changed or WaitFor, or armed by Ready.
func WatchWaiters[T any](r *WatchReceiver[T]) int { return r.c.q.queueLen() }

// WatchCloseWaiters returns how many senders of s's channel wait in
// WaitClosed.
func WatchCloseWaiters[T any](s *WatchSender[T]) int { return s.c.hs.q.queueLen() }

// WatchVersion returns the version of s's channel: the number of notifying
// sends so far.
func WatchVersion[T any](s *WatchSender[T]) uint64 { return watchVersion(s.c.p.Load().s) }

// WatchSeen returns the version r has seen.
func WatchSeen[T any](r *WatchReceiver[T]) uint64 { return r.seen }

// WatchBorrowVersion returns a copy of the value and the version it belongs
// to, read as Borrow reads them: from one box.
func WatchBorrowVersion[T any](r *WatchReceiver[T]) (T, uint64) {
	b := r.c.p.Load()
	return b.v, watchVersion(b.s)
}

package gate

// Test-only access to a watch channel's queues and version, for tests in
// package gate_test that must know a goroutine is parked before they act.

// queueLen returns how many waiters are on q.
func (q *waitQueue) queueLen() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for w := q.head; w != nil; w = w.next {
		n++
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

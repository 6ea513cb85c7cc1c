package gate

// Test-only access to Notify and Barrier, for tests in package gate_test that
// must know a goroutine is queued or parked before they act.

// NotifyQueueLen returns how many waiters n has: goroutines in Wait and
// enabled Notifieds not yet notified.
func NotifyQueueLen(n *Notify) int {
	n.q.mu.Lock()
	defer n.q.mu.Unlock()
	k := 0
	for w := n.q.head; w != nil; w = w.next {
		k++
	}
	return k
}

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

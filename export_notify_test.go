package gate

// Test-only access to Notify and Barrier, for tests in package gate_test that
// must know a goroutine is queued or parked before they act.

// NotifyQueueLen returns how many waiters are on n's list: goroutines in Wait
// and enabled Notifieds not yet notified.
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
	return n.state.Load()&notifyStateMask == notifyNotified
}

// NotifyState returns n's state bits (0 empty, 1 waiting, 2 notified) and
// its NotifyWaiters generation.
func NotifyState(n *Notify) (state int, gen uint64) {
	s := n.state.Load()
	return int(s & notifyStateMask), s >> notifyGenShift
}

// BarrierArrived returns how many goroutines wait in b's current generation.
func BarrierArrived(b *Barrier) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.arrived
}

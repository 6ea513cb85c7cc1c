package gate

// Test-only access to a oneshot's state, for tests in package gate_test that
// port tokio's is_empty / is_terminated checks and must know that a goroutine
// is parked before they act.

// OneshotHasValue reports whether rx's channel holds a sent value that has
// not been received (tokio's !is_empty).
func OneshotHasValue[T any](rx *OneshotReceiver[T]) bool {
	return rx.c.state.Load()&oneshotValue != 0
}

// OneshotRecvArmed reports whether the receiver has a channel armed (a
// parked Recv, or a Ready whose channel is not yet receivable).
func OneshotRecvArmed[T any](rx *OneshotReceiver[T]) bool {
	return rx.c.state.Load()&oneshotRxWaiting != 0
}

// OneshotCloseWaiters returns how many WaitClosed calls are queued on tx.
func OneshotCloseWaiters[T any](tx *OneshotSender[T]) int {
	tx.c.txq.mu.Lock()
	defer tx.c.txq.mu.Unlock()
	n := 0
	for w := tx.c.txq.head; w != nil; w = w.next {
		n++
	}
	return n
}

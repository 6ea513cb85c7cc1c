package gate

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
	c.q.mu.Lock()
	defer c.q.mu.Unlock()
	for w := c.q.head; w != nil; w = w.next {
		if w.token || w.owner == &c.rx {
			return true
		}
	}
	return false
}

// OneshotCloseWaiters returns how many WaitClosed calls are queued on tx.
func OneshotCloseWaiters[T any](tx *OneshotSender[T]) int {
	c := &tx.c
	c.q.mu.Lock()
	defer c.q.mu.Unlock()
	n := 0
	for w := c.q.head; w != nil; w = w.next {
		if !w.token && w.owner == nil {
			n++
		}
	}
	return n
}

package gate

// Test-only access to a broadcast channel's wait lists, for tests in package
// gate_test that must know a goroutine is queued before they act.

// count returns the length of q, whose list c.mu guards.
func (c *broadcastChan[T]) count(q *waitQueue) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for w := q.head; w != nil; w = w.next {
		n++
	}
	return n
}

// BroadcastSendWaiters returns how many SendWait calls wait on s's channel.
func BroadcastSendWaiters[T any](s *BroadcastSender[T]) int { return s.c.count(&s.c.sendQ) }

// BroadcastRecvWaiters returns how many receivers of s's channel wait for a
// value: parked in Recv, or armed by Ready.
func BroadcastRecvWaiters[T any](s *BroadcastSender[T]) int { return s.c.count(&s.c.recvQ) }

// BroadcastCloseWaiters returns how many WaitClosed calls wait on s's channel.
func BroadcastCloseWaiters[T any](s *BroadcastSender[T]) int { return s.c.count(&s.c.closeQ) }

// BroadcastPosition returns the position of r's next value: the number of
// values sent on the channel before it. Call it from r's goroutine.
func BroadcastPosition[T any](r *BroadcastReceiver[T]) uint64 { return r.next }

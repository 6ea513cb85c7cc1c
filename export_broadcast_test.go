package gate

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

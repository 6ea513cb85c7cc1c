package gate

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

package gate

// What the channels' handles offer beyond tokio's: weak senders, which do not
// keep a channel open (tokio's WeakSender), the count of open senders, and
// Stats. They are accounting on the core's handles and waitStats.

// An MPSCWeakSender is a handle that does not keep its channel open, for a
// registry or a supervisor that must reach a channel without owning it:
// Upgrade turns it into an [MPSCSender] while some sender is open. Make one
// with [MPSCSender.Downgrade]. It may be used by any number of goroutines at
// once and needs no Close.
type MPSCWeakSender[T any] struct{ c *mpscChan[T] }

// Downgrade returns a weak sender of s's channel, which does not count as an
// open sender: once every MPSCSender is closed the receiver gets ErrClosed
// after the buffered values, whatever weak senders remain.
func (s *MPSCSender[T]) Downgrade() *MPSCWeakSender[T] { return &MPSCWeakSender[T]{c: s.c} }

// Upgrade returns a new open sender of the channel, counted like a Clone, and
// true; or nil and false once every sender has been closed (a channel closed
// for its senders stays closed).
func (w *MPSCWeakSender[T]) Upgrade() (*MPSCSender[T], bool) {
	if !w.c.hs.addIfOpen(senders) {
		return nil, false
	}
	return &MPSCSender[T]{c: w.c}, true
}

// SenderCount returns the number of open (strong) senders now.
func (r *MPSCReceiver[T]) SenderCount() int { return int(r.c.hs.open[senders].Load()) }

// Stats returns a snapshot of the waiting of the channel's senders for room:
// the Send, Reserve and ReserveN calls that parked, on every handle.
func (s *MPSCSender[T]) Stats() Stats { return s.c.sem.q.stats.snapshot() }

// Stats returns a snapshot of the waiting on r: the Recv and RecvMany calls
// that parked.
func (r *MPSCReceiver[T]) Stats() Stats { return r.c.rq.stats.snapshot() }

// A BroadcastWeakSender is a handle that does not keep its broadcast channel
// open: Upgrade turns it into a [BroadcastSender] while some sender is open.
// Make one with [BroadcastSender.Downgrade]. It may be used by any number of
// goroutines at once and needs no Close.
type BroadcastWeakSender[T any] struct{ c *broadcastChan[T] }

// Downgrade returns a weak sender of s's channel, which does not count as an
// open sender.
func (s *BroadcastSender[T]) Downgrade() *BroadcastWeakSender[T] {
	return &BroadcastWeakSender[T]{c: s.c}
}

// Upgrade returns a new open sender of the channel and true, or nil and false
// once every sender has been closed.
func (w *BroadcastWeakSender[T]) Upgrade() (*BroadcastSender[T], bool) {
	c := w.c
	// Under recvQ.mu, where senders are counted in and out (see Clone).
	c.recvQ.mu.Lock()
	ok := c.hs.addIfOpen(senders)
	c.recvQ.mu.Unlock()
	if !ok {
		return nil, false
	}
	return &BroadcastSender[T]{c: c}, true
}

// SenderCount returns the number of open (strong) senders now.
func (r *BroadcastReceiver[T]) SenderCount() int { return int(r.c.hs.open[senders].Load()) }

// Stats returns a snapshot of the waiting on the channel's senders: the
// SendWait calls that parked, waiting for their turn or for a free slot.
func (s *BroadcastSender[T]) Stats() Stats { return s.c.turn.q.stats.snapshot(&s.c.slotQ.stats) }

// Stats returns a snapshot of the waiting on r: its Recv calls that parked.
func (r *BroadcastReceiver[T]) Stats() Stats { return r.stats.snapshot() }

// Stats returns a snapshot of the waiting on r: its Changed and WaitFor
// calls that parked.
func (r *WatchReceiver[T]) Stats() Stats { return r.stats.snapshot() }

// Stats returns a snapshot of the waiting on r: the Recv calls that parked.
func (r *OneshotReceiver[T]) Stats() Stats { return r.c.rxStats.snapshot() }

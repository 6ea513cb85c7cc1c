package gate

import "context"

// Temporary shims for the files not yet moved onto the new core (issue 13):
// each family's rewrite removes its uses; the file goes when none is left.

var bg = context.Background()

// takeAllChain empties the list and returns its waiters chained through next.
func (q *waitQueue) takeAllChain() *waiter {
	first := q.head
	for w := first; w != nil; w = w.next {
		w.queued = false
		w.prev = nil
	}
	q.head, q.tail = nil, nil
	q.waiting.Store(0)
	return first
}

func wakeAll(w *waiter) {
	for w != nil {
		next := w.next
		close(w.ready)
		w = next
	}
}

func wake(w *waiter) { close(w.ready) }

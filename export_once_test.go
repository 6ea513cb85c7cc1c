package gate

// Test-only access to the queues of OnceCell and SetOnce, for tests in package
// gate_test that must know a goroutine is parked before they act.

// onceQueueLen returns how many goroutines are queued on q: its count of
// waiters, which changes under q.mu with the list.
func onceQueueLen(q *waitQueue) int { return int(q.waiting.Load()) }

// OnceCellInitWaiters returns how many goroutines wait in GetOrInit or
// GetOrTryInit for the running initializer of c (not counting it).
func OnceCellInitWaiters[T any](c *OnceCell[T]) int { return c.s.queueLen() }

// OnceCellWaiters returns how many goroutines wait in c.Wait.
func OnceCellWaiters[T any](c *OnceCell[T]) int { return onceQueueLen(&c.w) }

// OnceCellInitializing reports whether an initializer (or a Set) holds c's
// initialization permit.
func OnceCellInitializing[T any](c *OnceCell[T]) bool {
	return c.v.Load() == nil && c.s.available(1) == 0
}

// OnceCellClosed reports whether c's initialization semaphore is closed,
// which must hold exactly while c is set.
func OnceCellClosed[T any](c *OnceCell[T]) bool { return c.s.closed() }

// SetOnceWaiters returns how many goroutines wait in c.Wait.
func SetOnceWaiters[T any](c *SetOnce[T]) int { return onceQueueLen(&c.q) }

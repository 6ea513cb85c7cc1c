package gate

// Test-only hooks used by the model tests in model_test.go.

// ModelRWMutexHeadGrant returns the permits already handed to the oldest
// waiter of rw (0 if nobody waits), which it keeps until its request is met:
// a writer waiting for the readers ahead of it to leave collects their permits
// here.
func ModelRWMutexHeadGrant[T any](rw *RWMutex[T]) int { return rw.s.headGrant() }

package gate

// Test-only access to the core's queue, for tests in package gate_test that
// must know a goroutine is parked before they act ("still blocked" / "woke").

// queueLen returns how many goroutines are queued on s.
func (s *sem) queueLen() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for w := s.head; w != nil; w = w.next {
		n++
	}
	return n
}

// headGrant returns the partial grant held by the head waiter (0 if none).
func (s *sem) headGrant() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.head == nil {
		return 0
	}
	return int(s.head.n - s.head.needed)
}

// SemaphoreWaiters returns how many goroutines wait on s.
func SemaphoreWaiters(s *Semaphore) int { return s.s.queueLen() }

// SemaphoreHeadGrant returns the permits already handed to the oldest waiter
// of s, which it keeps until its request is met.
func SemaphoreHeadGrant(s *Semaphore) int { return s.s.headGrant() }

// MutexWaiters returns how many goroutines wait on m.
func MutexWaiters[T any](m *Mutex[T]) int { return m.s.queueLen() }

// MutexLocked reports whether m is held.
func MutexLocked[T any](m *Mutex[T]) bool { return avail(m.s.state.Load(), 1) == 0 }

// RWMutexWaiters returns how many goroutines wait on rw.
func RWMutexWaiters[T any](rw *RWMutex[T]) int { return rw.s.queueLen() }

// RWMutexAvailable returns the free permits of rw: max readers minus the
// readers holding it; 0 while a writer holds it or anyone is queued.
func RWMutexAvailable[T any](rw *RWMutex[T]) int { return int(rw.s.available(rw.max())) }

// RWMutexMaxReaders returns the number of readers rw admits.
func RWMutexMaxReaders[T any](rw *RWMutex[T]) int { return int(rw.max()) }

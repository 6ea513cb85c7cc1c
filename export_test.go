package gate

// Test-only access to the core's queue, for tests in package gate_test that
// must know a goroutine is parked before they act ("still blocked" / "woke").

// queueLen returns how many goroutines are queued on s.
func (s *sem) queueLen() int {
	s.q.mu.Lock()
	defer s.q.mu.Unlock()
	n := 0
	for w := s.q.head; w != nil; w = w.next {
		n++
	}
	return n
}

// headGrant returns the partial grant held by the head waiter (0 if none).
func (s *sem) headGrant() int {
	s.q.mu.Lock()
	defer s.q.mu.Unlock()
	if s.q.head == nil {
		return 0
	}
	return int(s.q.head.n - s.q.head.needed)
}

// SemaphoreWaiters returns how many goroutines wait on s.
func SemaphoreWaiters(s *Semaphore) int { return s.s.queueLen() }

// SemaphoreHeadGrant returns the permits already handed to the oldest waiter
// of s, which it keeps until its request is met.
func SemaphoreHeadGrant(s *Semaphore) int { return s.s.headGrant() }

// MutexWaiters returns how many goroutines wait on m.
func MutexWaiters[T any](m *Mutex[T]) int { return m.s.queueLen() }

// MutexLocked reports whether m is held.
func MutexLocked[T any](m *Mutex[T]) bool { return m.s.available(1) == 0 }

// RWMutexWaiters returns how many goroutines wait on rw.
func RWMutexWaiters[T any](rw *RWMutex[T]) int { return rw.s.queueLen() }

// RWMutexAvailable returns the free permits of rw: max readers minus the
// readers holding it; 0 while a writer holds it or anyone is queued.
func RWMutexAvailable[T any](rw *RWMutex[T]) int { return int(rw.s.available(rw.max())) }

// RWMutexMaxReaders returns the number of readers rw admits.
func RWMutexMaxReaders[T any](rw *RWMutex[T]) int { return int(rw.max()) }

// CopyPermit returns a copy of p that holds the same permits: the misuse
// that Permit's noCopy makes go vet report, for tests of what it does.
func CopyPermit(p *Permit) Permit { return Permit{sem: p.sem, n: p.n} }

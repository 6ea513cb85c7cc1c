package etcd_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gophergate/gate/etcd"
)

func TestMutexLockUnlock(t *testing.T) {
	c := newClient(t, server.Endpoint)
	s1, s2 := newSession(t, c, 2*time.Second), newSession(t, c, 2*time.Second)
	m1, m2 := etcd.NewMutex(s1, name(t)), etcd.NewMutex(s2, name(t))

	t1, err := m1.Lock(t.Context())
	if err != nil || t1 <= 0 {
		t.Fatalf("Lock = %d, %v; want a positive Token", t1, err)
	}
	if _, err := m2.TryLock(t.Context()); !errors.Is(err, etcd.ErrLocked) {
		t.Fatalf("TryLock of a held lock = %v, want ErrLocked", err)
	}
	if ks := keys(t, c, name(t)); len(ks) != 1 {
		t.Fatalf("keys after a failed TryLock = %q, want only the holder's", ks)
	}
	if err := m1.Unlock(t.Context()); err != nil {
		t.Fatal(err)
	}
	if ks := keys(t, c, name(t)); len(ks) != 0 {
		t.Fatalf("keys after Unlock = %q, want none", ks)
	}
	t2, err := m2.TryLock(t.Context())
	if err != nil || t2 <= t1 {
		t.Fatalf("TryLock of a free lock = %d, %v; want a Token above %d", t2, err, t1)
	}
	if err := m2.Unlock(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestMutexFIFO(t *testing.T) {
	c := newClient(t, server.Endpoint)
	holder := etcd.NewMutex(newSession(t, c, 2*time.Second), name(t))
	if _, err := holder.Lock(t.Context()); err != nil {
		t.Fatal(err)
	}
	const n = 4
	waiters := make([]*etcd.Mutex, n)
	calls := make([]*call[etcd.Token], n)
	for i := range waiters {
		waiters[i] = etcd.NewMutex(newSession(t, c, 2*time.Second), name(t))
		calls[i] = async(func() (etcd.Token, error) { return waiters[i].Lock(t.Context()) })
		waitKeys(t, c, name(t), i+2) // queued in this order
	}
	// A newcomer does not overtake the queue, even with TryLock.
	if _, err := etcd.NewMutex(newSession(t, c, 2*time.Second), name(t)).TryLock(t.Context()); !errors.Is(err, etcd.ErrLocked) {
		t.Fatalf("TryLock behind waiters = %v, want ErrLocked", err)
	}
	if err := holder.Unlock(t.Context()); err != nil {
		t.Fatal(err)
	}
	var last etcd.Token
	for i := range waiters {
		tok, err := calls[i].result(t)
		if err != nil || tok <= last {
			t.Fatalf("waiter %d: Lock = %d, %v; want a Token above %d", i, tok, err, last)
		}
		last = tok
		for j := i + 1; j < n; j++ {
			calls[j].pending(t, 20*time.Millisecond)
		}
		if err := waiters[i].Unlock(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	waitKeys(t, c, name(t), 0)
}

func TestMutexSharedByGoroutines(t *testing.T) {
	c := newClient(t, server.Endpoint)
	m := etcd.NewMutex(newSession(t, c, 2*time.Second), name(t))
	const n, rounds = 4, 3
	var inside, total int
	errc := make(chan error, n)
	for range n {
		go func() {
			for range rounds {
				if _, err := m.Lock(t.Context()); err != nil {
					errc <- err
					return
				}
				inside++ // the race detector reports a second holder
				if inside != 1 {
					errc <- errors.New("two holders at once")
				}
				total++
				inside--
				if err := m.Unlock(t.Context()); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
	}
	for range n {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	if total != n*rounds {
		t.Fatalf("total = %d, want %d", total, n*rounds)
	}
}

func TestMutexCancelLeavesNoKey(t *testing.T) {
	c := newClient(t, server.Endpoint)
	holder := etcd.NewMutex(newSession(t, c, 2*time.Second), name(t))
	m := etcd.NewMutex(newSession(t, c, 2*time.Second), name(t))

	// A done ctx fails at once, even with the lock free.
	done, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := m.Lock(done); err != context.Canceled {
		t.Fatalf("Lock(done ctx) = %v, want context.Canceled unwrapped", err)
	}
	if _, err := m.TryLock(done); err != context.Canceled {
		t.Fatalf("TryLock(done ctx) = %v, want context.Canceled", err)
	}
	waitKeys(t, c, name(t), 0)

	if _, err := holder.Lock(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	lock := async(func() (etcd.Token, error) { return m.Lock(ctx) })
	waitKeys(t, c, name(t), 2)
	cancel()
	if _, err := lock.result(t); err != context.Canceled {
		t.Fatalf("Lock cancelled while waiting = %v, want context.Canceled", err)
	}
	if ks := keys(t, c, name(t)); len(ks) != 1 {
		t.Fatalf("keys after the cancelled Lock = %q, want only the holder's", ks)
	}

	dctx, dcancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer dcancel()
	if _, err := m.Lock(dctx); err != context.DeadlineExceeded {
		t.Fatalf("Lock past its deadline = %v, want context.DeadlineExceeded", err)
	}
	if ks := keys(t, c, name(t)); len(ks) != 1 {
		t.Fatalf("keys after the timed-out Lock = %q, want only the holder's", ks)
	}
	if err := holder.Unlock(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := m.TryLock(t.Context()); err != nil {
		t.Fatalf("TryLock after the holder left = %v", err)
	}
	if err := m.Unlock(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestMutexCancelInQueue cancels a waiter in the middle of the queue: the waiter behind
// it watched its key and must now wait on the one ahead of that.
func TestMutexCancelInQueue(t *testing.T) {
	c := newClient(t, server.Endpoint)
	mk := func() *etcd.Mutex { return etcd.NewMutex(newSession(t, c, 2*time.Second), name(t)) }
	h, a, b, d := mk(), mk(), mk(), mk()
	if _, err := h.Lock(t.Context()); err != nil {
		t.Fatal(err)
	}
	la := async(func() (etcd.Token, error) { return a.Lock(t.Context()) })
	waitKeys(t, c, name(t), 2)
	bctx, bcancel := context.WithCancel(t.Context())
	lb := async(func() (etcd.Token, error) { return b.Lock(bctx) })
	waitKeys(t, c, name(t), 3)
	ld := async(func() (etcd.Token, error) { return d.Lock(t.Context()) })
	waitKeys(t, c, name(t), 4)

	bcancel()
	if _, err := lb.result(t); err != context.Canceled {
		t.Fatalf("cancelled Lock = %v", err)
	}
	waitKeys(t, c, name(t), 3)
	la.pending(t, 20*time.Millisecond)
	ld.pending(t, 0)
	if err := h.Unlock(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := la.result(t); err != nil {
		t.Fatal(err)
	}
	ld.pending(t, 20*time.Millisecond)
	if err := a.Unlock(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := ld.result(t); err != nil {
		t.Fatal(err)
	}
	if err := d.Unlock(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestMutexUnlockUnlockedPanics(t *testing.T) {
	c := newClient(t, server.Endpoint)
	m := etcd.NewMutex(newSession(t, c, 2*time.Second), name(t))
	defer func() {
		if r := recover(); r == nil {
			t.Fatal("Unlock of an unlocked Mutex did not panic")
		}
	}()
	m.Unlock(t.Context())
}

func TestMutexUnlockDoneCtxKeepsLock(t *testing.T) {
	c := newClient(t, server.Endpoint)
	m := etcd.NewMutex(newSession(t, c, 2*time.Second), name(t))
	if _, err := m.Lock(t.Context()); err != nil {
		t.Fatal(err)
	}
	done, cancel := context.WithCancel(t.Context())
	cancel()
	if err := m.Unlock(done); err != context.Canceled {
		t.Fatalf("Unlock(done ctx) = %v, want context.Canceled", err)
	}
	waitKeys(t, c, name(t), 1)
	if err := m.Unlock(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitKeys(t, c, name(t), 0)
}

// TestMutexTwoOnOneSession takes one name through two Mutexes of one session: they
// queue like separate processes and do not share a key.
func TestMutexTwoOnOneSession(t *testing.T) {
	c := newClient(t, server.Endpoint)
	s := newSession(t, c, 2*time.Second)
	m1, m2 := etcd.NewMutex(s, name(t)), etcd.NewMutex(s, name(t))
	if _, err := m1.Lock(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := m2.TryLock(t.Context()); !errors.Is(err, etcd.ErrLocked) {
		t.Fatalf("TryLock through a second Mutex = %v, want ErrLocked", err)
	}
	lock := async(func() (etcd.Token, error) { return m2.Lock(t.Context()) })
	waitKeys(t, c, name(t), 2)
	if err := m1.Unlock(t.Context()); err != nil {
		t.Fatalf("Unlock = %v", err)
	}
	if _, err := lock.result(t); err != nil {
		t.Fatal(err)
	}
	if err := m2.Unlock(t.Context()); err != nil {
		t.Fatal(err)
	}
}

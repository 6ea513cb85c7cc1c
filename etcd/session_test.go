package etcd_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gophergate/gate/etcd"
)

func TestSessionClose(t *testing.T) {
	c := newClient(t, server.Endpoint)
	done, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := etcd.NewSession(done, c, time.Second); err != context.Canceled {
		t.Fatalf("NewSession(done ctx) = %v, want context.Canceled", err)
	}
	s, err := etcd.NewSession(t.Context(), c, 1500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	ttl, err := c.TimeToLive(t.Context(), s.Lease())
	if err != nil || ttl.GrantedTTL != 2 {
		t.Fatalf("granted TTL = %d s, %v; want 1.5 s rounded up to 2 s", ttl.GrantedTTL, err)
	}
	m := etcd.NewMutex(s, name(t))
	if _, err := m.Lock(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("Done not closed after Close")
	}
	waitKeys(t, c, name(t), 0) // revoked at once, not after the TTL
	if err := s.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if _, err := m.Lock(t.Context()); !errors.Is(err, etcd.ErrLost) {
		t.Fatalf("Lock through a closed session = %v, want ErrLost", err)
	}
	if err := m.Unlock(t.Context()); !errors.Is(err, etcd.ErrLost) {
		t.Fatalf("Unlock after Close = %v, want ErrLost", err)
	}
}

// TestMutexLeaseRevoked revokes the holder's lease behind its back: its Done closes,
// the waiter gets the lock with a larger Token, and the holder's Unlock says ErrLost.
func TestMutexLeaseRevoked(t *testing.T) {
	c := newClient(t, server.Endpoint)
	s1 := newSession(t, c, 2*time.Second)
	holder, waiter := etcd.NewMutex(s1, name(t)), etcd.NewMutex(newSession(t, c, 2*time.Second), name(t))
	t1, err := holder.Lock(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	lock := async(func() (etcd.Token, error) { return waiter.Lock(t.Context()) })
	waitKeys(t, c, name(t), 2)
	if _, err := c.Revoke(t.Context(), s1.Lease()); err != nil {
		t.Fatal(err)
	}
	t2, err := lock.result(t)
	if err != nil || t2 <= t1 {
		t.Fatalf("waiter's Lock = %d, %v; want a Token above %d", t2, err, t1)
	}
	select {
	case <-s1.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed 5 s after the revoke")
	}
	if err := holder.Unlock(t.Context()); !errors.Is(err, etcd.ErrLost) {
		t.Fatalf("Unlock after the revoke = %v, want ErrLost", err)
	}
	if err := waiter.Unlock(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestMutexLeaseExpired stops the holder's keep-alive, as a hung process would: the
// lock goes to the waiter once the TTL has passed, and the holder's waiters and its
// Unlock say ErrLost.
func TestMutexLeaseExpired(t *testing.T) {
	c := newClient(t, server.Endpoint)
	s1 := newSession(t, c, time.Second)
	holder, waiter := etcd.NewMutex(s1, name(t)), etcd.NewMutex(newSession(t, c, time.Second), name(t))
	sem := etcd.NewSemaphore(s1, name(t)+"-sem", 1)
	t1, err := holder.Lock(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	lock := async(func() (etcd.Token, error) { return waiter.Lock(t.Context()) })
	waitKeys(t, c, name(t), 2)
	s1.Abandon()
	start := time.Now()
	if _, err := sem.Acquire(t.Context()); !errors.Is(err, etcd.ErrLost) {
		t.Fatalf("Acquire through a lost session = %v, want ErrLost", err)
	}
	t2, err := lock.result(t)
	if err != nil || t2 <= t1 {
		t.Fatalf("waiter's Lock = %d, %v; want a Token above %d", t2, err, t1)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("the lock came free %v after the keep-alive stopped, want about the 1 s TTL", d)
	}
	if err := holder.Unlock(t.Context()); !errors.Is(err, etcd.ErrLost) {
		t.Fatalf("Unlock after the lease expired = %v, want ErrLost", err)
	}
	if err := waiter.Unlock(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestWaiterLeaseLost loses the lease of a waiting Lock: the Lock returns ErrLost and
// the lock is not passed to it.
func TestWaiterLeaseLost(t *testing.T) {
	c := newClient(t, server.Endpoint)
	holder := etcd.NewMutex(newSession(t, c, 2*time.Second), name(t))
	s := newSession(t, c, 2*time.Second)
	if _, err := holder.Lock(t.Context()); err != nil {
		t.Fatal(err)
	}
	lock := async(func() (etcd.Token, error) { return etcd.NewMutex(s, name(t)).Lock(t.Context()) })
	waitKeys(t, c, name(t), 2)
	if _, err := c.Revoke(t.Context(), s.Lease()); err != nil {
		t.Fatal(err)
	}
	if _, err := lock.result(t); !errors.Is(err, etcd.ErrLost) {
		t.Fatalf("waiting Lock after its lease was revoked = %v, want ErrLost", err)
	}
	waitKeys(t, c, name(t), 1)
	if err := holder.Unlock(t.Context()); err != nil {
		t.Fatal(err)
	}
}

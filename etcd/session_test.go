package etcd_test

import (
	"context"
	"errors"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

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
	holderLost(t, 2*time.Second, "the revoke", func(c *clientv3.Client, s1 *etcd.Session) func() {
		if _, err := c.Revoke(t.Context(), s1.Lease()); err != nil {
			t.Fatal(err)
		}
		return func() {
			select {
			case <-s1.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("Done not closed 5 s after the revoke")
			}
		}
	})
}

// TestMutexLeaseExpired stops the holder's keep-alive, as a hung process would: the
// lock goes to the waiter once the TTL has passed, and the holder's waiters and its
// Unlock say ErrLost.
func TestMutexLeaseExpired(t *testing.T) {
	holderLost(t, time.Second, "the lease expired", func(_ *clientv3.Client, s1 *etcd.Session) func() {
		sem := etcd.NewSemaphore(s1, name(t)+"-sem", 1)
		s1.Abandon()
		start := time.Now()
		if _, err := sem.Acquire(t.Context()); !errors.Is(err, etcd.ErrLost) {
			t.Fatalf("Acquire through a lost session = %v, want ErrLost", err)
		}
		return func() {
			if d := time.Since(start); d < 300*time.Millisecond {
				t.Fatalf("the lock came free %v after the keep-alive stopped, want about the 1 s TTL", d)
			}
		}
	})
}

// holderLost locks a Mutex through a session s1 with the given TTL, queues a Lock behind
// it through a second session, and calls lose(s1): the waiter must get the lock with a
// larger Token, then the check that lose returned runs, the holder's Unlock must say
// ErrLost (after what, in its message) and the waiter's succeed.
func holderLost(t *testing.T, ttl time.Duration, after string, lose func(c *clientv3.Client, s1 *etcd.Session) func()) {
	c := newClient(t, server.Endpoint)
	s1 := newSession(t, c, ttl)
	holder, waiter := etcd.NewMutex(s1, name(t)), etcd.NewMutex(newSession(t, c, ttl), name(t))
	t1 := must(t, holder.Lock)
	lock := async(func() (etcd.Token, error) { return waiter.Lock(t.Context()) })
	waitKeys(t, c, name(t), 2)
	check := lose(c, s1)
	t2, err := lock.result(t)
	if err != nil || t2 <= t1 {
		t.Fatalf("waiter's Lock = %d, %v; want a Token above %d", t2, err, t1)
	}
	check()
	if err := holder.Unlock(t.Context()); !errors.Is(err, etcd.ErrLost) {
		t.Fatalf("Unlock after %s = %v, want ErrLost", after, err)
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

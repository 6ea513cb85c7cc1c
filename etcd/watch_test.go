package etcd_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/gophergate/gate"
	"github.com/gophergate/gate/etcd"
	"github.com/gophergate/gate/etcd/internal/embedded"
)

func atoi(b []byte) (int, error) { return strconv.Atoi(string(b)) }

func TestWatchFollowsKey(t *testing.T) {
	c := newClient(t, server.Endpoint)
	key := name(t)
	put, err := c.Put(t.Context(), key, "1")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	rx, err := etcd.Watch(ctx, c, key, atoi)
	if err != nil {
		t.Fatal(err)
	}
	want := etcd.Versioned[int]{Value: 1, Revision: put.Header.Revision, Exists: true}
	if got := rx.Borrow(); got != want {
		t.Fatalf("first value = %+v, want %+v", got, want)
	}
	if ch, _ := rx.HasChanged(); ch {
		t.Fatal("the first value is not seen")
	}
	changed := func() etcd.Versioned[int] {
		t.Helper()
		wctx, wcancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer wcancel()
		if err := rx.Changed(wctx); err != nil {
			t.Fatal(err)
		}
		return rx.BorrowAndUpdate()
	}

	put, _ = c.Put(t.Context(), key, "2")
	if got := changed(); got.Value != 2 || got.Revision != put.Header.Revision || !got.Exists || got.Err != nil {
		t.Fatalf("after Put 2: %+v", got)
	}
	c.Put(t.Context(), key, "x")
	if got := changed(); got.Err == nil || got.Value != 0 || !got.Exists {
		t.Fatalf("after Put x: %+v, want a decode error", got)
	}
	c.Delete(t.Context(), key)
	if got := changed(); got != (etcd.Versioned[int]{}) {
		t.Fatalf("after Delete: %+v, want the zero Versioned", got)
	}
	cancel()
	wctx, wcancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer wcancel()
	if err := rx.Changed(wctx); !errors.Is(err, gate.ErrClosed) {
		t.Fatalf("Changed after ctx ended = %v, want ErrClosed", err)
	}

	done, dcancel := context.WithCancel(t.Context())
	dcancel()
	if _, err := etcd.Watch(done, c, key, atoi); err != context.Canceled {
		t.Fatalf("Watch(done ctx) = %v, want context.Canceled", err)
	}
}

// TestWatchCompactionAndRestart cuts the watching client off, writes and compacts
// meanwhile, so that the revisions it missed are gone when it comes back, then restarts
// the server: the receiver still ends at the newest value each time.
func TestWatchCompactionAndRestart(t *testing.T) {
	srv, err := embedded.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	direct := newClient(t, srv.Endpoint)
	p := newProxy(t, srv.Endpoint[len("http://"):])
	c := newClient(t, p.endpoint())
	key := name(t)
	if _, err := direct.Put(t.Context(), key, "1"); err != nil {
		t.Fatal(err)
	}
	rx, err := etcd.Watch(t.Context(), c, key, atoi)
	if err != nil {
		t.Fatal(err)
	}
	waitValue := func(want int, rev int64) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		got, err := rx.WaitFor(ctx, func(v etcd.Versioned[int]) bool { return v.Value == want })
		if err != nil {
			t.Fatalf("waiting for %d: %v (have %+v)", want, err, rx.Borrow())
		}
		if got.Revision != rev {
			t.Fatalf("value %d at revision %d, want %d", want, got.Revision, rev)
		}
	}

	p.setCut(true)
	var rev int64
	for i := 2; i <= 4; i++ {
		put, err := direct.Put(t.Context(), key, strconv.Itoa(i))
		if err != nil {
			t.Fatal(err)
		}
		rev = put.Header.Revision
	}
	if _, err := direct.Compact(t.Context(), rev); err != nil {
		t.Fatal(err)
	}
	p.setCut(false)
	waitValue(4, rev)

	p.setCut(true)
	srv.Stop()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	p.setCut(false)
	put, err := direct.Put(t.Context(), key, "5")
	if err != nil {
		t.Fatal(err)
	}
	waitValue(5, put.Header.Revision)
}

// TestServerRestart stops and restarts the server on its data directory while a lock
// and a permit are held and waited for: sessions with a TTL longer than the outage
// survive it, the holders release normally, and the waiters get in after them.
func TestServerRestart(t *testing.T) {
	srv, err := embedded.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	p := newProxy(t, srv.Endpoint[len("http://"):])
	c := newClient(t, p.endpoint())
	nm := name(t)
	mk := func() *etcd.Session { return newSession(t, c, 5*time.Second) }
	holder, waiter := etcd.NewMutex(mk(), nm), etcd.NewMutex(mk(), nm)
	sh, sw := etcd.NewSemaphore(mk(), nm+"-sem", 1), etcd.NewSemaphore(mk(), nm+"-sem", 1)
	t1, p1 := must(t, holder.Lock), must(t, sh.Acquire)
	lock := async(func() (etcd.Token, error) { return waiter.Lock(t.Context()) })
	acq := async(func() (etcd.Token, error) { return sw.Acquire(t.Context()) })
	waitKeys(t, c, nm, 2)
	waitKeys(t, c, nm+"-sem", 2)

	p.setCut(true)
	srv.Stop()
	time.Sleep(300 * time.Millisecond)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	p.setCut(false)
	lock.pending(t, 200*time.Millisecond)
	acq.pending(t, 0)
	if err := holder.Unlock(t.Context()); err != nil {
		t.Fatalf("Unlock after the restart = %v", err)
	}
	if t2, err := lock.result(t); err != nil || t2 <= t1 {
		t.Fatalf("waiter's Lock = %d, %v; want a Token above %d", t2, err, t1)
	}
	acq.pending(t, 0)
	if err := sh.Release(t.Context(), p1); err != nil {
		t.Fatalf("Release after the restart = %v", err)
	}
	p2, err := acq.result(t)
	if err != nil || p2 <= p1 {
		t.Fatalf("waiter's Acquire = %d, %v; want a Token above %d", p2, err, p1)
	}
	if err := waiter.Unlock(t.Context()); err != nil {
		t.Fatal(err)
	}
	release(t, sw, p2)
	waitKeys(t, c, nm, 0)
	waitKeys(t, c, nm+"-sem", 0)
}

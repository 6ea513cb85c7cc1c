package gate_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gophergate/gate"
)

// The tests of API.md's "Beyond tokio" additions that live on the existing
// primitives: Stats and the Locker adapters.

// A statsCase is one primitive seen through Stats: wait starts a call that
// parks (its fast path refused), grant lets one parked call through, fast
// makes a call that does not park, stats reads the snapshot.
type statsCase struct {
	name  string
	setup func() (wait func(ctx context.Context) error, grant, fast func(), stats func() gate.Stats)
}

func statsCases() []statsCase {
	return []statsCase{
		{"Semaphore", func() (func(context.Context) error, func(), func(), func() gate.Stats) {
			s := gate.NewSemaphore(0)
			return func(ctx context.Context) error { _, err := s.Acquire(ctx); return err },
				func() { s.AddPermits(1) },
				func() { s.AddPermits(1); p, _ := s.Acquire(context.Background()); p.Forget() },
				s.Stats
		}},
		{"Mutex", func() (func(context.Context) error, func(), func(), func() gate.Stats) {
			m := gate.NewMutex(0)
			m.TryLock()
			return func(ctx context.Context) error { _, err := m.Lock(ctx); return err },
				m.Unlock, // hands m to the waiter, which keeps it: the next wait parks too
				func() { _, _ = m.TryLock() },
				m.Stats
		}},
		{"RWMutex", func() (func(context.Context) error, func(), func(), func() gate.Stats) {
			rw := gate.NewRWMutex(0)
			rw.TryLock()
			return func(ctx context.Context) error { _, err := rw.Lock(ctx); return err },
				rw.Unlock,
				func() { _, _ = rw.TryRLock() },
				rw.Stats
		}},
		{"Notify", func() (func(context.Context) error, func(), func(), func() gate.Stats) {
			var n gate.Notify
			return n.Wait, n.NotifyOne,
				func() { n.NotifyOne(); _ = n.Wait(context.Background()) }, // takes the stored permit
				n.Stats
		}},
		{"Barrier", func() (func(context.Context) error, func(), func(), func() gate.Stats) {
			b := gate.NewBarrier(2)
			return func(ctx context.Context) error { _, err := b.Wait(ctx); return err },
				func() { _, _ = b.Wait(context.Background()) }, // the leader, which does not park
				func() {},
				b.Stats
		}},
		{"MPSCSender", func() (func(context.Context) error, func(), func(), func() gate.Stats) {
			tx, rx := gate.MPSC[int](1)
			_ = tx.TrySend(0) // full: every Send waits for room
			return func(ctx context.Context) error { return tx.Send(ctx, 1) },
				func() { _, _ = rx.TryRecv() }, // room for the waiting Send, which fills it again
				func() { _ = tx.TrySend(2) }, // ErrFull, without waiting
				tx.Stats
		}},
		{"MPSCReceiver", func() (func(context.Context) error, func(), func(), func() gate.Stats) {
			tx, rx := gate.MPSC[int](4)
			return func(ctx context.Context) error { _, err := rx.Recv(ctx); return err },
				func() { _ = tx.TrySend(1) },
				func() { _ = tx.TrySend(2); _, _ = rx.Recv(context.Background()) },
				rx.Stats
		}},
		{"BroadcastSender", func() (func(context.Context) error, func(), func(), func() gate.Stats) {
			tx, rx := gate.Broadcast[int](1)
			_, _ = tx.Send(0) // the slot is unread: every SendWait waits
			return func(ctx context.Context) error { _, err := tx.SendWait(ctx, 1); return err },
				func() { _, _ = rx.TryRecv() },
				func() { _ = tx.ReceiverCount() },
				tx.Stats
		}},
		{"BroadcastReceiver", func() (func(context.Context) error, func(), func(), func() gate.Stats) {
			tx, rx := gate.Broadcast[int](4)
			return func(ctx context.Context) error { _, err := rx.Recv(ctx); return err },
				func() { _, _ = tx.Send(1) },
				func() { _, _ = tx.Send(2); _, _ = rx.Recv(context.Background()) },
				rx.Stats
		}},
		{"WatchReceiver", func() (func(context.Context) error, func(), func(), func() gate.Stats) {
			tx, rx := gate.Watch(0)
			return rx.Changed,
				func() { _ = tx.Send(1) },
				func() { _ = rx.Borrow() },
				rx.Stats
		}},
		{"OneshotReceiver", func() (func(context.Context) error, func(), func(), func() gate.Stats) {
			tx, rx := gate.Oneshot[int]()
			var stats gate.Stats // summed over the pairs, which are used up by one Send each
			return func(ctx context.Context) error { _, err := rx.Recv(ctx); return err },
				func() {
					_ = tx.Send(1)
					synctest.Wait()
					stats = add(stats, rx.Stats())
					tx, rx = gate.Oneshot[int]()
				},
				func() { _, _ = rx.TryRecv() },
				func() gate.Stats { return add(stats, rx.Stats()) }
		}},
		{"OnceCell", func() (func(context.Context) error, func(), func(), func() gate.Stats) {
			var c gate.OnceCell[int]
			return func(ctx context.Context) error { _, err := c.Wait(ctx); c.Take(); return err },
				func() { _ = c.Set(1) },
				func() { _, _ = c.Get() },
				c.Stats
		}},
		{"SetOnce", func() (func(context.Context) error, func(), func(), func() gate.Stats) {
			var c *gate.SetOnce[int]
			reset := func() { c = new(gate.SetOnce[int]) }
			reset()
			var stats gate.Stats // summed over the SetOnces, which are used up by one Set each
			return func(ctx context.Context) error {
					_, err := c.Wait(ctx)
					return err
				},
				func() { _ = c.Set(1); synctest.Wait(); stats = add(stats, c.Stats()); reset() },
				func() { _, _ = c.Get() },
				func() gate.Stats { return add(stats, c.Stats()) }
		}},
	}
}

// add returns the sum of two snapshots, as SetOnce's case needs.
func add(a, b gate.Stats) gate.Stats {
	return gate.Stats{Waiting: a.Waiting + b.Waiting, Waits: a.Waits + b.Waits, Cancelled: a.Cancelled + b.Cancelled,
		WaitTime: a.WaitTime + b.WaitTime, MaxWait: max(a.MaxWait, b.MaxWait)}
}

// Stats counts the calls that parked, the ones that gave up, and how long
// they waited on the bubble's clock, exactly; a call that does not park
// leaves it as it was.
func TestStats(t *testing.T) {
	for _, c := range statsCases() {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				wait, grant, fast, stats := c.setup()
				want := func(w gate.Stats) {
					t.Helper()
					if d := cmp.Diff(w, stats()); d != "" {
						t.Fatalf("Stats (-want +got):\n%s", d)
					}
				}
				want(gate.Stats{})
				fast()
				want(gate.Stats{}) // a call that does not park is not counted

				// A wait of 1 s that is granted.
				w := goErr("wait", func() error { return wait(t.Context()) })
				synctest.Wait()
				want(gate.Stats{Waiting: 1, Waits: 1})
				time.Sleep(time.Second)
				grant()
				synctest.Wait()
				w.ok(t)
				want(gate.Stats{Waits: 1, WaitTime: time.Second, MaxWait: time.Second})

				// A wait that its ctx ends after 3 s.
				ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
				defer cancel()
				w = goErr("wait", func() error { return wait(ctx) })
				synctest.Wait()
				time.Sleep(3 * time.Second)
				synctest.Wait()
				w.failed(t, context.DeadlineExceeded)
				want(gate.Stats{Waits: 2, Cancelled: 1, WaitTime: 4 * time.Second, MaxWait: 3 * time.Second})

				// A done ctx does not park at all.
				if err := wait(doneCtx(t.Context())); err != context.Canceled {
					t.Fatalf("wait with a done ctx: %v", err)
				}
				want(gate.Stats{Waits: 2, Cancelled: 1, WaitTime: 4 * time.Second, MaxWait: 3 * time.Second})
			})
		})
	}
}

// A Mutex's Locker locks and unlocks the Mutex itself: FIFO with the ctx
// Locks, a durable block in a bubble, and usable as a sync.Cond's L.
func TestMutexLocker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := gate.NewMutex(0)
		l := m.Locker()
		p, err := m.Lock(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		first := goErr("Lock", func() error { q, err := m.Lock(t.Context()); *q++; m.Unlock(); return err })
		synctest.Wait()
		second := goErr("Locker.Lock", func() error { l.Lock(); return nil })
		synctest.Wait()
		first.pending(t)
		second.pending(t)
		*p = 10
		m.Unlock()
		synctest.Wait()
		first.ok(t)
		second.ok(t) // after first, which unlocked: the Locker holds m now
		if _, ok := m.TryLock(); ok {
			t.Fatal("TryLock succeeded while the Locker holds m")
		}
		l.Unlock()
		if q, ok := m.TryLock(); !ok || *q != 11 {
			t.Fatalf("after Locker.Unlock: TryLock = %v; want the value 11", ok)
		}
		m.Unlock()
		mustPanic(t, "Locker().Unlock of an unlocked Mutex", l.Unlock)

		// As the L of a sync.Cond.
		c := sync.NewCond(l)
		ready := false
		w := goErr("Cond.Wait", func() error {
			l.Lock()
			for !ready {
				c.Wait()
			}
			l.Unlock()
			return nil
		})
		synctest.Wait()
		w.pending(t)
		l.Lock()
		ready = true
		c.Signal()
		l.Unlock()
		synctest.Wait()
		w.ok(t)
	})
}

// An RWMutex's Locker write-locks it and its RLocker read-locks it.
func TestRWMutexLockers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rw := gate.NewRWMutex(0)
		r, w := rw.RLocker(), rw.Locker()
		r.Lock()
		r.Lock() // two readers at once
		wr := goErr("Locker.Lock", func() error { w.Lock(); return nil })
		synctest.Wait()
		wr.pending(t)
		r.Unlock()
		synctest.Wait()
		wr.pending(t)
		r.Unlock()
		synctest.Wait()
		wr.ok(t)
		if _, ok := rw.TryRLock(); ok {
			t.Fatal("TryRLock succeeded while the Locker holds the write lock")
		}
		w.Unlock()
		if _, ok := rw.TryLock(); !ok {
			t.Fatal("TryLock failed after the Lockers unlocked")
		}
		rw.Unlock()
		mustPanic(t, "RLocker().Unlock of an unlocked RWMutex", r.Unlock)
		mustPanic(t, "Locker().Unlock of an unlocked RWMutex", w.Unlock)
	})
}

// Handing out a Locker allocates nothing.
func TestLockerNoAllocs(t *testing.T) {
	m := gate.NewMutex(0)
	rw := gate.NewRWMutex(0)
	if n := testing.AllocsPerRun(100, func() {
		l := m.Locker()
		l.Lock()
		l.Unlock()
		l = rw.RLocker()
		l.Lock()
		l.Unlock()
		l = rw.Locker()
		l.Lock()
		l.Unlock()
	}); n != 0 {
		t.Fatalf("Locker, RLocker and their Lock/Unlock allocate %v times per run, want 0", n)
	}
}

// A weak sender does not keep the channel open; Upgrade gives an open sender
// while one is open and fails once the last one closed, after which the
// receiver drains what was sent and then sees ErrClosed.
func TestWeakSenders(t *testing.T) {
	type side struct {
		name string
		pair func() (upgrade func() (send func(int) error, close func(), ok bool), closeFirst func(), count func() int, recv func() (int, error))
	}
	sides := []side{
		{"MPSC", func() (func() (func(int) error, func(), bool), func(), func() int, func() (int, error)) {
			tx, rx := gate.MPSC[int](4)
			w := tx.Downgrade()
			return func() (func(int) error, func(), bool) {
					s, ok := w.Upgrade()
					if !ok {
						return nil, nil, false
					}
					return func(v int) error { return s.TrySend(v) }, s.Close, true
				}, tx.Close, rx.SenderCount,
				func() (int, error) { return rx.TryRecv() }
		}},
		{"Broadcast", func() (func() (func(int) error, func(), bool), func(), func() int, func() (int, error)) {
			tx, rx := gate.Broadcast[int](4)
			w := tx.Downgrade()
			return func() (func(int) error, func(), bool) {
					s, ok := w.Upgrade()
					if !ok {
						return nil, nil, false
					}
					return func(v int) error { _, err := s.Send(v); return err }, s.Close, true
				}, tx.Close, rx.SenderCount,
				func() (int, error) { return rx.TryRecv() }
		}},
	}
	for _, sd := range sides {
		t.Run(sd.name, func(t *testing.T) {
			upgrade, closeFirst, count, recv := sd.pair()
			if n := count(); n != 1 {
				t.Fatalf("SenderCount = %d, want 1 (a weak sender does not count)", n)
			}
			send, closeUp, ok := upgrade()
			if !ok {
				t.Fatal("Upgrade failed with a sender open")
			}
			if n := count(); n != 2 {
				t.Fatalf("SenderCount after Upgrade = %d, want 2", n)
			}
			if err := send(1); err != nil {
				t.Fatalf("send on the upgraded sender: %v", err)
			}
			closeFirst()
			if _, err := recv(); err != nil {
				t.Fatalf("the upgraded sender keeps the channel open: %v", err)
			}
			closeUp()
			if n := count(); n != 0 {
				t.Fatalf("SenderCount after both closed = %d, want 0", n)
			}
			if _, _, ok := upgrade(); ok {
				t.Fatal("Upgrade succeeded after the last sender closed")
			}
			if _, err := recv(); err != gate.ErrClosed {
				t.Fatalf("receive after the last sender closed: %v, want ErrClosed (the weak sender keeps nothing open)", err)
			}
		})
	}
}

// Upgrade racing the last Close: either it fails, or the sender it returns
// keeps the channel open until it closes (a value it sends is received).
func TestWeakSenderUpgradeRace(t *testing.T) {
	watchdog(t)
	for range 500 {
		tx, rx := gate.MPSC[int](1)
		w := tx.Downgrade()
		var up *gate.MPSCSender[int]
		var wg sync.WaitGroup
		wg.Go(func() {
			if s, ok := w.Upgrade(); ok {
				up = s
			}
		})
		wg.Go(tx.Close)
		wg.Wait()
		if up == nil {
			if _, err := rx.TryRecv(); err != gate.ErrClosed {
				t.Fatalf("Upgrade failed but TryRecv = %v, want ErrClosed", err)
			}
			continue
		}
		if err := up.TrySend(7); err != nil {
			t.Fatalf("send on a sender upgraded in the race: %v", err)
		}
		up.Close()
		if v, err := rx.TryRecv(); err != nil || v != 7 {
			t.Fatalf("TryRecv = %v, %v; want 7", v, err)
		}
		if _, err := rx.TryRecv(); err != gate.ErrClosed {
			t.Fatalf("TryRecv after the upgraded sender closed: %v, want ErrClosed", err)
		}
	}
}

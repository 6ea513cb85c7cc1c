package gate_test

import (
	"sync"
	"testing"
	"testing/synctest"

	"github.com/gophergate/gate"
)

// The tests of API.md's "Beyond tokio" additions that live on the existing
// primitives: the Locker adapters.

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

package gate_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/gophergate/gate"
)

func TestSmoke(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var m gate.Mutex[int]
		p, _ := m.Lock(t.Context())
		*p = 1
		done := make(chan int)
		go func() {
			p, err := m.Lock(context.Background())
			if err != nil {
				t.Error(err)
			}
			done <- *p
			m.Unlock()
		}()
		synctest.Wait()
		if gate.MutexWaiters(&m) != 1 {
			t.Fatal("not queued")
		}
		if _, ok := m.TryLock(); ok {
			t.Fatal("trylock succeeded")
		}
		m.Unlock()
		if _, ok := m.TryLock(); ok {
			t.Fatal("barged")
		}
		if v := <-done; v != 1 {
			t.Fatal(v)
		}
		s := gate.NewSemaphore(4)
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				for range 100 {
					p, err := s.AcquireN(t.Context(), 3)
					if err != nil {
						t.Error(err)
						return
					}
					p.Release()
				}
			})
		}
		wg.Wait()
		if s.Available() != 4 {
			t.Fatal(s.Available())
		}
	})
}

package gate_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gophergate/gate"
)

// A Mutex owns the value it protects: Lock hands out a pointer to it, valid
// until Unlock. Lock takes a context, so a caller can stop waiting.
func ExampleMutex() {
	ctx := context.Background()
	hits := gate.NewMutex(map[string]int{})

	var wg sync.WaitGroup
	for _, page := range []string{"/", "/about", "/", "/"} {
		wg.Go(func() {
			m, err := hits.Lock(ctx)
			if err != nil {
				return
			}
			defer hits.Unlock()
			(*m)[page]++
		})
	}
	wg.Wait()

	m, _ := hits.Lock(ctx)
	fmt.Println("/:", (*m)["/"], "/about:", (*m)["/about"])

	// While the lock is held, a Lock with a deadline gives up, holding nothing.
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	_, err := hits.Lock(short)
	fmt.Println(errors.Is(err, context.DeadlineExceeded))
	hits.Unlock()

	// Output:
	// /: 3 /about: 1
	// true
}

// An RWMutex admits many readers at once, or one writer. It is
// write-preferring: once a writer waits, readers that arrive after it wait too.
func ExampleRWMutex() {
	ctx := context.Background()
	config := gate.NewRWMutex(map[string]string{"mode": "fast"})

	// Readers share the lock.
	r1, _ := config.RLock(ctx)
	r2, _ := config.TryRLock()
	fmt.Println((*r1)["mode"], (*r2)["mode"])

	// A writer waits for both readers to leave.
	written := make(chan struct{})
	go func() {
		w, err := config.Lock(ctx)
		if err != nil {
			return
		}
		(*w)["mode"] = "safe"
		config.Unlock()
		close(written)
	}()
	config.RUnlock()
	config.RUnlock()
	<-written

	r, _ := config.RLock(ctx)
	fmt.Println((*r)["mode"])
	config.RUnlock()

	// Output:
	// fast fast
	// safe
}

// Downgrade turns a write lock into a read lock without letting a writer in
// between: the value just written is the one read.
func ExampleRWMutex_Downgrade() {
	ctx := context.Background()
	version := gate.NewRWMutex(1)

	v, _ := version.Lock(ctx)
	*v = 2
	version.Downgrade() // now a reader: others may read, nobody may write

	r, ok := version.TryRLock()
	fmt.Println("another reader:", ok, *r)
	_, ok = version.TryLock()
	fmt.Println("a writer:", ok)
	fmt.Println("downgraded holder reads:", *v)

	version.RUnlock() // the other reader
	version.RUnlock() // the downgraded lock
	_, ok = version.TryLock()
	fmt.Println("a writer after both left:", ok)
	version.Unlock()

	// Output:
	// another reader: true 2
	// a writer: false
	// downgraded holder reads: 2
	// a writer after both left: true
}

package gate_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gophergate/gate"
)

// A KeyedMutex serializes the work on each user's state while different
// users proceed in parallel: here a read-modify-write of a balance in a
// store that has no transactions. A user's lock exists only while someone
// holds or waits for it, so a million users cost nothing once they are idle.
func ExampleKeyedMutex() {
	ctx := context.Background()
	var store sync.Map // user -> balance; Load and Store, but no atomic update
	var users gate.KeyedMutex[string]

	deposit := func(user string, amount int) error {
		if err := users.Lock(ctx, user); err != nil {
			return err
		}
		defer users.Unlock(user)
		balance, _ := store.Load(user)
		b, _ := balance.(int)
		time.Sleep(time.Millisecond) // the slow part: a round trip to the store
		store.Store(user, b+amount)
		return nil
	}

	var wg sync.WaitGroup
	for range 10 {
		for _, user := range []string{"ana", "bo", "cy"} {
			wg.Go(func() { deposit(user, 5) })
		}
	}
	wg.Wait()
	for _, user := range []string{"ana", "bo", "cy"} {
		b, _ := store.Load(user)
		fmt.Println(user, b)
	}
	fmt.Println("locks in use:", users.Len())
	// Output:
	// ana 50
	// bo 50
	// cy 50
	// locks in use: 0
}

// A Flight in front of a slow loader: callers that ask for the same key
// while it loads share one load. Each caller waits with its own ctx: one
// that gives up does not cancel the load for the others.
func ExampleFlight() {
	var configs gate.Flight[string, string]
	var loads atomic.Int32
	started, release := make(chan struct{}), make(chan struct{})
	load := func(ctx context.Context) (string, error) {
		loads.Add(1)
		close(started)
		select {
		case <-release: // the slow part
			return "v42", nil
		case <-ctx.Done(): // every caller gave up
			return "", ctx.Err()
		}
	}

	first := make(chan string)
	go func() {
		v, _, err := configs.Do(context.Background(), "app.yaml", load)
		first <- fmt.Sprint(v, " ", err)
	}()
	<-started

	// A caller with a short deadline joins the load in flight, gives up,
	// and the load goes on.
	short, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, _, err := configs.Do(short, "app.yaml", load)
	fmt.Println("impatient caller:", errors.Is(err, context.DeadlineExceeded))

	close(release)
	fmt.Println("first caller:", <-first)
	fmt.Println("loads:", loads.Load())
	// Output:
	// impatient caller: true
	// first caller: v42 <nil>
	// loads: 1
}

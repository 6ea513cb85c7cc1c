package gate_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gophergate/gate"
)

// A OnceCell initializes a value lazily, once, for every goroutine that needs
// it. Concurrent callers wait for the running initializer instead of running
// their own; the initializer gets the caller's context.
func ExampleOnceCell() {
	ctx := context.Background()
	var config gate.OnceCell[map[string]string]
	loads := 0
	load := func(ctx context.Context) map[string]string {
		loads++ // only one initializer runs at a time: no race
		return map[string]string{"region": "eu-west"}
	}

	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			cfg, err := config.GetOrInit(ctx, load)
			if err != nil {
				return
			}
			_ = cfg["region"]
		})
	}
	wg.Wait()

	cfg, _ := config.Get()
	fmt.Println(cfg["region"], "loaded", loads, "time")
	// Output:
	// eu-west loaded 1 time
}

// GetOrTryInit's initializer may fail: the cell stays empty and the next
// caller tries again. Take empties the cell, so that the next caller
// initializes it anew: a cache that can be invalidated.
func ExampleOnceCell_GetOrTryInit() {
	ctx := context.Background()
	var conn gate.OnceCell[string]
	attempts := 0
	dial := func(ctx context.Context) (string, error) {
		attempts++
		if attempts == 1 {
			return "", errors.New("connection refused")
		}
		return fmt.Sprintf("conn#%d", attempts), nil
	}

	_, err := conn.GetOrTryInit(ctx, dial)
	fmt.Println("first:", err)
	c, _ := conn.GetOrTryInit(ctx, dial)
	fmt.Println("second:", c)
	c, _ = conn.GetOrTryInit(ctx, dial)
	fmt.Println("cached:", c)

	old, _ := conn.Take() // invalidate
	c, _ = conn.GetOrTryInit(ctx, dial)
	fmt.Println("after Take of", old+":", c)
	// Output:
	// first: connection refused
	// second: conn#2
	// cached: conn#2
	// after Take of conn#2: conn#3
}

// Wait waits for a value without initializing the cell, and Set sets it
// without an initializer.
func ExampleOnceCell_Wait() {
	var leader gate.OnceCell[string]
	got := make(chan string)
	go func() {
		name, _ := leader.Wait(context.Background())
		got <- name
	}()

	if err := leader.Set("node-2"); err != nil {
		fmt.Println(err)
	}
	fmt.Println("elected:", <-got)
	fmt.Println(leader.Set("node-3"))
	// Output:
	// elected: node-2
	// gate: value already set
}

// A SetOnce is an event that carries a value: here a server publishes its
// address once it listens. Done lets a goroutine wait for it in a select
// statement, next to a timer or ctx.Done(); Wait waits with a context.
func ExampleSetOnce() {
	var addr gate.SetOnce[string]
	go func() {
		// ... listen ...
		_ = addr.Set("127.0.0.1:8080")
	}()

	select {
	case <-addr.Done():
		a, _ := addr.Get()
		fmt.Println("listening on", a)
	case <-time.After(time.Minute):
		fmt.Println("server did not start")
	}

	a, err := addr.Wait(context.Background())
	fmt.Println(a, err)
	fmt.Println(addr.Set("127.0.0.1:9090"))
	// Output:
	// listening on 127.0.0.1:8080
	// 127.0.0.1:8080 <nil>
	// gate: value already set
}

// Of several concurrent Sets exactly one wins; the others return
// ErrAlreadySet once the winner's value can be read.
func ExampleSetOnce_Set() {
	var first gate.SetOnce[int]
	var wg sync.WaitGroup
	results := make([]error, 5)
	for i := range results {
		wg.Go(func() { results[i] = first.Set(i) })
	}
	wg.Wait()

	won := 0
	for i, err := range results {
		if err == nil {
			won++
			if v, _ := first.Get(); v != i {
				fmt.Println("the value is not the winner's")
			}
		}
	}
	fmt.Println("winners:", won)
	// Output:
	// winners: 1
}

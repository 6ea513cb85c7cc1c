package etcd_test

import (
	"context"
	"fmt"
	"log"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/gophergate/gate/etcd"
)

// endpoint is an etcd server's client URL: here the embedded server of the tests.
func endpoint() string { return server.Endpoint }

// dial connects to the etcd cluster at endpoint(), as a process does once at start.
func dial() *clientv3.Client {
	client, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint()}, DialTimeout: 5 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	return client
}

// connect dials, then opens the process's one session: its lease ends the locks of a
// process that dies. stop closes both.
func connect(ctx context.Context) (s *etcd.Session, stop func()) {
	client := dial()
	s, err := etcd.NewSession(ctx, client, 2*time.Second)
	if err != nil {
		log.Fatal(err)
	}
	return s, func() {
		s.Close()
		client.Close()
	}
}

func ExampleMutex() {
	ctx := context.Background()
	s, stop := connect(ctx)
	defer stop()

	m := etcd.NewMutex(s, "example/jobs")
	token, err := m.Lock(ctx)
	if err != nil {
		log.Fatal(err)
	}
	// ... work, passing token to the storage so that it can refuse a stale holder ...
	fmt.Println("locked with a token:", token > 0)

	_, err = etcd.NewMutex(s, "example/jobs").TryLock(ctx)
	fmt.Println("second TryLock:", err)

	if err := m.Unlock(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("unlocked")
	// Output:
	// locked with a token: true
	// second TryLock: gate/etcd: held by others
	// unlocked
}

func ExampleSemaphore() {
	ctx := context.Background()
	s, stop := connect(ctx)
	defer stop()

	// At most two exports at once across the fleet.
	sem := etcd.NewSemaphore(s, "example/exports", 2)
	a, _ := sem.Acquire(ctx)
	b, _ := sem.Acquire(ctx)
	_, err := sem.TryAcquire(ctx)
	fmt.Println("third:", err)
	sem.Release(ctx, a)
	sem.Release(ctx, b)
	// Output:
	// third: gate/etcd: held by others
}

func ExampleWatch() {
	client := dial()
	defer client.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // ends the watch and closes the receiver

	client.Put(ctx, "example/config", "v1")
	config, err := etcd.Watch(ctx, client, "example/config", func(b []byte) (string, error) { return string(b), nil })
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("now:", config.Borrow().Value)

	client.Put(ctx, "example/config", "v2")
	v, err := config.WaitFor(ctx, func(v etcd.Versioned[string]) bool { return v.Value == "v2" })
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("reloaded:", v.Value)
	// Output:
	// now: v1
	// reloaded: v2
}

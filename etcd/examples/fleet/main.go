// Command fleet runs several "processes" (goroutines, each with its own etcd client and
// Session, as separate machines would have) against one etcd: they take turns at a
// Mutex and write a counter fenced by their Tokens, at most two at a time run an
// "export" under a Semaphore, all follow one configuration key with Watch, and one of
// them crashes while holding the lock, which comes free after its lease's TTL.
//
//	go run ./examples/fleet                                  # an embedded etcd, nothing to install
//	go run ./examples/fleet -endpoints 10.0.0.1:2379,10.0.0.2:2379
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/gophergate/gate/etcd"
	"github.com/gophergate/gate/etcd/internal/embedded"
)

func main() {
	endpoints := flag.String("endpoints", "", "etcd endpoints, comma-separated; empty: start an embedded server")
	procs := flag.Int("procs", 4, "processes")
	rounds := flag.Int("rounds", 3, "lock rounds per process")
	ttl := flag.Duration("ttl", 2*time.Second, "session TTL")
	flag.Parse()

	eps := strings.Split(*endpoints, ",")
	if *endpoints == "" {
		dir, err := os.MkdirTemp("", "gate-etcd-fleet-")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(dir)
		srv, err := embedded.New(dir)
		if err != nil {
			log.Fatal(err)
		}
		defer srv.Stop()
		eps = []string{srv.Endpoint}
		fmt.Println("embedded etcd at", srv.Endpoint)
	}
	dial := func() *clientv3.Client {
		c, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 5 * time.Second})
		if err != nil {
			log.Fatal(err)
		}
		return c
	}
	admin := dial()
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin.Put(ctx, "fleet/config", "v1")
	admin.Put(ctx, "fleet/counter", "0")
	admin.Put(ctx, "fleet/fence", "0")

	// The crasher takes the lock first and dies holding it: its client goes away
	// without revoking the lease, so the lock is free only after the TTL.
	crasher := dial()
	cs, err := etcd.NewSession(ctx, crasher, *ttl)
	if err != nil {
		log.Fatal(err)
	}
	tok, err := etcd.NewMutex(cs, "fleet/lock").Lock(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("crasher holds the lock (token %d) and dies\n", tok)
	crasher.Close()
	crashed := time.Now()

	var wg sync.WaitGroup
	for p := range *procs {
		wg.Go(func() {
			if err := process(ctx, dial(), p, *rounds, *ttl, crashed); err != nil {
				log.Printf("process %d: %v", p, err)
			}
		})
	}
	time.Sleep(*ttl + time.Second)
	admin.Put(ctx, "fleet/config", "v2")
	wg.Wait()
	resp, err := admin.Get(ctx, "fleet/counter")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("counter = %s, want %d\n", resp.Kvs[0].Value, *procs**rounds)
}

var firstAfterCrash sync.Once

func process(ctx context.Context, c *clientv3.Client, id, rounds int, ttl time.Duration, crashed time.Time) error {
	defer c.Close()
	s, err := etcd.NewSession(ctx, c, ttl)
	if err != nil {
		return err
	}
	defer s.Close()
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	config, err := etcd.Watch(wctx, c, "fleet/config", func(b []byte) (string, error) { return string(b), nil })
	if err != nil {
		return err
	}
	m := etcd.NewMutex(s, "fleet/lock")
	exports := etcd.NewSemaphore(s, "fleet/exports", 2)
	for range rounds {
		tok, err := m.Lock(ctx)
		if err != nil {
			return err
		}
		firstAfterCrash.Do(func() {
			fmt.Printf("process %d got the lock %v after the crash (token %d)\n", id, time.Since(crashed).Round(100*time.Millisecond), tok)
		})
		if err := fencedIncrement(ctx, c, tok); err != nil {
			return err
		}
		if err := m.Unlock(ctx); err != nil {
			return err
		}
		pt, err := exports.Acquire(ctx)
		if err != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond) // the export
		if err := exports.Release(ctx, pt); err != nil {
			return err
		}
	}
	v, err := config.WaitFor(ctx, func(v etcd.Versioned[string]) bool { return v.Value == "v2" })
	if err != nil {
		return err
	}
	fmt.Printf("process %d done, config %s (revision %d)\n", id, v.Value, v.Revision)
	return nil
}

// fencedIncrement increments the counter as a storage service that fences would: only
// if no write with a larger Token was accepted before.
func fencedIncrement(ctx context.Context, c *clientv3.Client, tok etcd.Token) error {
	resp, err := c.Get(ctx, "fleet/counter")
	if err != nil {
		return err
	}
	n, _ := strconv.Atoi(string(resp.Kvs[0].Value))
	ft := fmt.Sprintf("%020d", tok)
	tr, err := c.Txn(ctx).If(
		clientv3.Compare(clientv3.ModRevision("fleet/counter"), "=", resp.Kvs[0].ModRevision),
		clientv3.Compare(clientv3.Value("fleet/fence"), "<", ft),
	).Then(clientv3.OpPut("fleet/counter", strconv.Itoa(n+1)), clientv3.OpPut("fleet/fence", ft)).Commit()
	if err != nil {
		return err
	}
	if !tr.Succeeded {
		return errors.New("fenced write refused: a newer holder wrote first")
	}
	return nil
}

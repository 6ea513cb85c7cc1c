package etcd_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/gophergate/gate/etcd"
	"github.com/gophergate/gate/etcd/internal/embedded"
)

// server is the embedded etcd that most tests and the benchmarks share; tests that stop
// their server start their own.
var server *embedded.Server

// childEnv names the role of a child process: the test binary re-executed by a test
// (see child_test.go), which runs that role instead of the tests.
const childEnv = "GATE_ETCD_CHILD"

func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		os.Exit(runChild(role))
	}
	// The goroutines running now belong to the testing package; everything started
	// later, the embedded server's included, must be gone after Stop.
	ignore := goleak.IgnoreCurrent()
	dir, err := os.MkdirTemp("", "gate-etcd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	server, err = embedded.New(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	server.Stop()
	os.RemoveAll(dir)
	if code == 0 {
		if err := findLeaks(ignore); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// findLeaks reports goroutines left after every test, client and server has stopped.
// etcd's server keeps a few package-level goroutines for the life of the process (its
// log and metrics machinery), which are not ours to stop.
func findLeaks(ignore goleak.Option) error {
	var err error
	for range 50 { // goroutines of closed connections take a moment to go
		if err = goleak.Find(append([]goleak.Option{ignore}, ignoreEtcd...)...); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

var ignoreEtcd = []goleak.Option{
	goleak.IgnoreAnyFunction("go.opencensus.io/stats/view.(*worker).start"),
	goleak.IgnoreAnyFunction("gopkg.in/natefinch/lumberjack%2ev2.(*Logger).millRun"),
}

// newClient returns a client of endpoint, closed at the end of the test.
func newClient(tb testing.TB, endpoint string) *clientv3.Client {
	tb.Helper()
	c, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{endpoint},
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
		// Reconnect within a fraction of a second of a restarted server, not after
		// gRPC's default backoff of up to two minutes.
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 300 * time.Millisecond},
			MinConnectTimeout: time.Second,
		})},
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// newSession returns a session of ttl on c, closed at the end of the test.
func newSession(tb testing.TB, c *clientv3.Client, ttl time.Duration) *etcd.Session {
	tb.Helper()
	s, err := etcd.NewSession(tb.Context(), c, ttl)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// keys lists the keys under prefix, oldest first.
func keys(tb testing.TB, c *clientv3.Client, prefix string) []string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.Get(ctx, prefix+"/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		tb.Fatal(err)
	}
	sort.Slice(resp.Kvs, func(i, j int) bool { return resp.Kvs[i].CreateRevision < resp.Kvs[j].CreateRevision })
	var ks []string
	for _, kv := range resp.Kvs {
		ks = append(ks, string(kv.Key))
	}
	return ks
}

// waitKeys waits until prefix holds n keys: a Lock or Acquire started in another
// goroutine has then joined the queue.
func waitKeys(tb testing.TB, c *clientv3.Client, prefix string, n int) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ks := keys(tb, c, prefix)
		if len(ks) == n {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s holds %d keys, want %d: %q", prefix, len(ks), n, ks)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// name returns a lock name of the test's own.
func name(tb testing.TB) string { return "gate-test/" + tb.Name() }

// A call is a blocking call run in its own goroutine.
type call[T any] struct {
	done chan struct{}
	v    T
	err  error
}

func async[T any](f func() (T, error)) *call[T] {
	c := &call[T]{done: make(chan struct{})}
	go func() {
		defer close(c.done)
		c.v, c.err = f()
	}()
	return c
}

// result waits up to 10 s for the call to return.
func (c *call[T]) result(tb testing.TB) (T, error) {
	tb.Helper()
	select {
	case <-c.done:
		return c.v, c.err
	case <-time.After(10 * time.Second):
		tb.Fatal("call did not return in 10 s")
		panic("unreachable")
	}
}

// value is result for a call that must succeed: it fails the test on an error.
func (c *call[T]) value(tb testing.TB) T {
	tb.Helper()
	v, err := c.result(tb)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// must runs take (a Lock or an Acquire) for a step that must succeed: it fails the
// test on an error.
func must(tb testing.TB, take func(context.Context) (etcd.Token, error)) etcd.Token {
	tb.Helper()
	tok, err := take(tb.Context())
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// release is s.Release for a step that must succeed: it fails the test on an error.
func release(tb testing.TB, s *etcd.Semaphore, tok etcd.Token) {
	tb.Helper()
	if err := s.Release(tb.Context(), tok); err != nil {
		tb.Fatal(err)
	}
}

// pending fails the test if the call returns within d.
func (c *call[T]) pending(tb testing.TB, d time.Duration) {
	tb.Helper()
	select {
	case <-c.done:
		tb.Fatalf("call returned (%v, %v), want it still waiting", c.v, c.err)
	case <-time.After(d):
	}
}

// A proxy forwards TCP connections to target until it is cut: then it closes every
// connection and refuses new ones until it is resumed, as a network partition between
// one client and the server would. Cutting the clients off before stopping the server
// also spares the server's Stop its wait of several seconds for open streams to end.
type proxy struct {
	l      net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newProxy(tb testing.TB, target string) *proxy {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &proxy{l: l, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	tb.Cleanup(func() {
		l.Close()
		p.setCut(true)
		p.wg.Wait()
	})
	return p
}

func (p *proxy) endpoint() string { return "http://" + p.l.Addr().String() }

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		in, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			in.Close()
			continue
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			in.Close()
			continue
		}
		p.conns[in], p.conns[out] = struct{}{}, struct{}{}
		p.wg.Add(2)
		p.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			defer p.wg.Done()
			io.Copy(dst, src)
			dst.Close()
			src.Close()
		}
		go pipe(in, out)
		go pipe(out, in)
	}
}

// setCut cuts (true) or resumes (false) the proxy.
func (p *proxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	}
}

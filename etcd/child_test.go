package etcd_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/gophergate/gate/etcd"
)

// Child processes are this test binary run again with childEnv set: TestMain then runs
// runChild instead of the tests. They talk to the parent's server at endpointEnv.
const (
	endpointEnv = "GATE_ETCD_ENDPOINT"
	nameEnv     = "GATE_ETCD_NAME"
	roundsEnv   = "GATE_ETCD_ROUNDS"
)

func runChild(role string) int {
	ctx := context.Background()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{os.Getenv(endpointEnv)}, DialTimeout: 5 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer c.Close()
	s, err := etcd.NewSession(ctx, c, 2*time.Second)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	m := etcd.NewMutex(s, os.Getenv(nameEnv))
	switch role {
	case "hold":
		tok, err := m.Lock(ctx)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Printf("LOCKED %d\n", tok)
		select {} // until killed
	case "fence":
		rounds, _ := strconv.Atoi(os.Getenv(roundsEnv))
		for range rounds {
			if err := fencedIncrement(ctx, c, m, os.Getenv(nameEnv)); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 2
			}
		}
		return 0
	}
	fmt.Fprintln(os.Stderr, "unknown child role", role)
	return 1
}

// fencedIncrement takes the lock, then increments name's counter the way a storage
// service that fences with Tokens would accept it: only if the counter did not change
// since it was read and no larger Token was seen before. It records the interval it held
// the lock for, in wall-clock nanoseconds (the children share the machine's clock).
func fencedIncrement(ctx context.Context, c *clientv3.Client, m *etcd.Mutex, name string) error {
	tok, err := m.Lock(ctx)
	if err != nil {
		return err
	}
	start := time.Now().UnixNano()
	counter, fence := name+"-counter", name+"-fence"
	resp, err := c.Get(ctx, counter)
	if err != nil {
		return err
	}
	n, _ := strconv.Atoi(string(resp.Kvs[0].Value))
	time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond) // widen the window for an intruder
	ft := fmt.Sprintf("%020d", tok)
	tr, err := c.Txn(ctx).If(
		clientv3.Compare(clientv3.ModRevision(counter), "=", resp.Kvs[0].ModRevision),
		clientv3.Compare(clientv3.Value(fence), "<", ft),
	).Then(
		clientv3.OpPut(counter, strconv.Itoa(n+1)),
		clientv3.OpPut(fence, ft),
	).Commit()
	if err != nil {
		return err
	}
	if !tr.Succeeded {
		return fmt.Errorf("token %d: the fenced write was refused: another holder wrote meanwhile", tok)
	}
	end := time.Now().UnixNano()
	if _, err := c.Put(ctx, name+"-log/"+ft, fmt.Sprintf("%d %d", start, end)); err != nil {
		return err
	}
	return m.Unlock(ctx)
}

// child starts this test binary as a child process in role.
func child(t *testing.T, role, name string, rounds int) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+role, endpointEnv+"="+server.Endpoint,
		nameEnv+"="+name, roundsEnv+"="+strconv.Itoa(rounds))
	cmd.Stderr = os.Stderr
	return cmd
}

// TestMutexCrossProcess runs several processes that contend for one Mutex and increment
// a counter under it, fenced by their Tokens; every increment must be accepted, and the
// intervals in which they held the lock, ordered by Token, must not overlap.
func TestMutexCrossProcess(t *testing.T) {
	const procs, rounds = 3, 5
	c := newClient(t, server.Endpoint)
	nm := name(t)
	if _, err := c.Delete(t.Context(), nm+"-log/", clientv3.WithPrefix()); err != nil { // an earlier -count round's
		t.Fatal(err)
	}
	if _, err := c.Put(t.Context(), nm+"-counter", "0"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(t.Context(), nm+"-fence", fmt.Sprintf("%020d", 0)); err != nil {
		t.Fatal(err)
	}
	cmds := make([]*exec.Cmd, procs)
	for i := range cmds {
		cmds[i] = child(t, "fence", nm, rounds)
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("child %d: %v", i, err)
		}
	}
	if t.Failed() {
		return
	}
	resp, err := c.Get(t.Context(), nm+"-counter")
	if err != nil {
		t.Fatal(err)
	}
	if got := string(resp.Kvs[0].Value); got != strconv.Itoa(procs*rounds) {
		t.Fatalf("counter = %s, want %d", got, procs*rounds)
	}
	resp, err = c.Get(t.Context(), nm+"-log/", clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != procs*rounds {
		t.Fatalf("%d holds logged, want %d", len(resp.Kvs), procs*rounds)
	}
	var prevEnd int64
	for _, kv := range resp.Kvs { // ordered by Token: the keys are zero-padded Tokens
		var start, end int64
		fmt.Sscan(string(kv.Value), &start, &end)
		if start < prevEnd {
			t.Fatalf("hold %s began %v before the previous one (smaller Token) ended", kv.Key, time.Duration(prevEnd-start))
		}
		prevEnd = end
	}
	waitKeys(t, c, nm, 0)
}

// TestMutexHolderKilled kills (SIGKILL on Unix) a child process that holds the lock: the
// lock stays held until the child's lease expires, and then goes to the waiter, with a
// larger Token.
func TestMutexHolderKilled(t *testing.T) {
	c := newClient(t, server.Endpoint)
	nm := name(t)
	cmd := child(t, "hold", nm, 0)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal(err)
	}
	held, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(line, "LOCKED ")), 10, 64)

	m := etcd.NewMutex(newSession(t, c, 2*time.Second), nm)
	lock := async(func() (etcd.Token, error) { return m.Lock(t.Context()) })
	waitKeys(t, c, nm, 2)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	cmd.Wait()

	// The child's last keep-alive was at most a third of the 2 s TTL before the kill,
	// so its lease has more than a second to run.
	lock.pending(t, time.Second-time.Since(killed)-100*time.Millisecond)
	if _, err := etcd.NewMutex(newSession(t, c, 2*time.Second), nm).TryLock(t.Context()); !errors.Is(err, etcd.ErrLocked) {
		t.Fatalf("TryLock before the dead holder's TTL = %v, want ErrLocked", err)
	}
	tok, err := lock.result(t)
	if err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(killed); waited > 5*time.Second {
		t.Errorf("the lock came free %v after the kill, want about the 2 s TTL", waited)
	}
	if int64(tok) <= held {
		t.Fatalf("Token after the dead holder = %d, want above its %d", tok, held)
	}
	if err := m.Unlock(t.Context()); err != nil {
		t.Fatal(err)
	}
}

package etcd

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// A queue is the FIFO of callers waiting for one of the permits of a name, kept in etcd
// and shared by every process: Mutex is a queue with one permit, Semaphore one with n.
//
// Each Lock or Acquire call puts a key of its own, name/<lease>-<n>, attached to its
// session's lease. The names are reused, by the calls that follow on the same Mutex or
// Semaphore value, once the call that had one is over: etcd keeps every key name ever used
// under a prefix in its index until the next compaction, and each read of the queue
// walks them all, so a fresh name per call would make every call slower than the last. The keys are ordered by their creation revision, which etcd makes
// unique and increasing, so the order is the order of arrival across all processes. The
// calls whose keys are among the first permits hold a permit; the creation revision of
// a holder's key is its Token. A key leaves the queue when its caller releases, gives up
// (ctx done) or loses its lease, and never re-enters it: a later call makes a new key.
//
// Waking one waiter per release. The waiter right behind the holders (the head waiter,
// with exactly permits keys ahead of it) watches the prefix for deletions: the first
// deletion of a key ahead of it lets it in, and no other waiter is watching those keys.
// Every other waiter watches only the key just ahead of it, and looks again when that
// key goes (its owner left the queue) or, with more than one permit, is rewritten: a
// head waiter that is let in rewrites its own key (the same value, lease kept), so the
// waiter behind it learns that it is now the head waiter. With one permit that write is
// not needed, since the waiter behind the holder is the head waiter, and is skipped; it
// is the only difference between a Mutex and a Semaphore of one permit. A release thus
// wakes the head waiter, which takes the permit with no further request, and nobody else:
// etcd's concurrency.Mutex has the same chain, as does its documented recipe.
//
// Every watch starts at the revision of the read that chose it, so a change between the
// read and the watch is not missed; a compacted or broken watch makes the waiter read
// again.
type queue struct {
	s       *Session
	pfx     string // name + "/"
	permits int

	mu   sync.Mutex // guards free
	free []string   // key names no call of this queue uses now
}

// name returns a key name that no other call of this queue uses now.
func (q *queue) name() string {
	q.mu.Lock()
	defer q.mu.Unlock()
	if n := len(q.free); n > 0 {
		key := q.free[n-1]
		q.free = q.free[:n-1]
		return key
	}
	// Numbered per session, not per queue: two Mutexes of one name on one session
	// must not share a key.
	return fmt.Sprintf("%s%016x-%x", q.pfx, int64(q.s.id), q.s.names.Add(1))
}

// done gives back a key name taken by name, once its key is gone from etcd.
func (q *queue) done(key string) {
	q.mu.Lock()
	q.free = append(q.free, key)
	q.mu.Unlock()
}

// enter puts a new key for this call at the end of the queue and reports whether it is
// among the first permits: one round trip, a transaction of the put and a read of the
// first permits keys. On error the key may or may not exist, and the caller must remove
// it with leave.
func (q *queue) enter(ctx context.Context) (key string, rev int64, held bool, err error) {
	key = q.name()
	resp, err := q.s.client.Txn(ctx).Then(
		clientv3.OpPut(key, "", clientv3.WithLease(q.s.id)),
		clientv3.OpGet(q.pfx, clientv3.WithPrefix(), clientv3.WithKeysOnly(),
			clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortAscend),
			clientv3.WithLimit(int64(q.permits))),
	).Commit()
	if err != nil {
		return key, 0, false, err
	}
	rev = resp.Header.Revision
	for _, kv := range resp.Responses[1].GetResponseRange().Kvs {
		if kv.CreateRevision == rev {
			return key, rev, true, nil
		}
	}
	return key, rev, false, nil
}

// wait blocks until the key made by enter at revision rev is among the first permits of
// the queue, ctx is done (ctx.Err()), the session is lost (ErrLost) or etcd fails. On
// error the caller must remove the key with leave: it may have been let in meanwhile,
// and leaving then passes the permit on.
//
// A waiter rides out an outage of etcd (a restart, a leader election, a broken
// connection): it reads the queue again, backing off, for as long as its lease lives;
// the lease, lost after a TTL without etcd, bounds the wait, as it bounds a holder's.
func (q *queue) wait(ctx context.Context, key string, rev int64) error {
	c := q.s.client
	backoff := 10 * time.Millisecond
	for {
		// What is ahead: the last permits+1 keys created before ours, newest first,
		// and whether our own key still exists (it goes with the lease).
		resp, err := c.Txn(ctx).Then(
			clientv3.OpGet(key, clientv3.WithCountOnly()),
			clientv3.OpGet(q.pfx, clientv3.WithPrefix(), clientv3.WithKeysOnly(),
				clientv3.WithMaxCreateRev(rev-1),
				clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortDescend),
				clientv3.WithLimit(int64(q.permits+1))),
		).Commit()
		if err != nil {
			if !unavailable(err) || ctx.Err() != nil {
				return err
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-q.s.done:
				return ErrLost
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 10 * time.Millisecond
		if resp.Responses[0].GetResponseRange().Count == 0 {
			return ErrLost
		}
		ahead := resp.Responses[1].GetResponseRange().Kvs
		if len(ahead) < q.permits {
			return q.admitted(ctx, key)
		}
		from := resp.Header.Revision + 1
		var done bool
		if len(ahead) == q.permits {
			done, err = q.waitHead(ctx, key, ahead, from)
		} else {
			err = q.waitBehind(ctx, string(ahead[0].Key), from)
		}
		if err != nil {
			return err
		}
		if done {
			return q.admitted(ctx, key)
		}
	}
}

// waitHead waits as the head waiter: ahead holds exactly the permits keys ahead of ours.
// It reports true once one of them is deleted, false when the watch broke and the queue
// must be read again.
func (q *queue) waitHead(ctx context.Context, key string, ahead []*mvccpb.KeyValue, from int64) (bool, error) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wch := q.s.client.Watch(wctx, q.pfx, clientv3.WithPrefix(), clientv3.WithRev(from), clientv3.WithFilterPut())
	for {
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-q.s.done:
			return false, ErrLost
		case wr, ok := <-wch:
			if !ok || wr.Canceled || wr.Err() != nil {
				return false, ctx.Err() // nil unless ctx ended: read again
			}
			for _, ev := range wr.Events {
				k := string(ev.Kv.Key)
				if k == key {
					return false, ErrLost
				}
				for _, kv := range ahead {
					if string(kv.Key) == k {
						return true, nil
					}
				}
			}
		}
	}
}

// waitBehind waits as a waiter behind the head waiter until the key just ahead, prev,
// is deleted or (with several permits) rewritten by its owner, let in; the caller then
// reads the queue again.
func (q *queue) waitBehind(ctx context.Context, prev string, from int64) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opts := []clientv3.OpOption{clientv3.WithRev(from)}
	if q.permits == 1 {
		opts = append(opts, clientv3.WithFilterPut())
	}
	wch := q.s.client.Watch(wctx, prev, opts...)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-q.s.done:
			return ErrLost
		case wr, ok := <-wch:
			if !ok || wr.Canceled || wr.Err() != nil || len(wr.Events) > 0 {
				return ctx.Err()
			}
		}
	}
}

// admitted is called once a waiting key is among the first permits. With several permits
// it rewrites the key, the same empty value with the lease kept, so that the waiter
// watching it learns that it is now the head waiter. The write is part of being let in,
// which came before any end of ctx, so it does not depend on ctx; if it fails, wait
// fails and the key is removed.
func (q *queue) admitted(ctx context.Context, key string) error {
	if q.permits == 1 {
		return nil
	}
	wctx, cancel := q.s.cleanupContext(ctx)
	defer cancel()
	_, err := q.s.client.Put(wctx, key, "", clientv3.WithIgnoreLease())
	return err
}

// leave removes a key that enter put, whatever state it is in, after ctx ended or a
// call failed: a key left behind would hold a place, or a permit, for as long as the
// session lives. If etcd cannot be told within a TTL, the session is abandoned, so that
// the lease, and with it the key, expires.
func (q *queue) leave(ctx context.Context, key string) {
	dctx, cancel := q.s.cleanupContext(ctx)
	defer cancel()
	if _, err := q.s.client.Delete(dctx, key); err != nil {
		q.s.abandon()
		return // the name stays unused: the lease, not this call, ends the key
	}
	q.done(key)
}

// release deletes the key of a holder, and reports ErrLost if it was gone already (the
// lease went, and the key with it). No other call can have put a key of that name
// meanwhile, since the name is reused only once this call is over, so a plain delete
// (one round trip, as concurrency.Mutex's Unlock) tells the two apart. Either way the
// key name is free again; on any other error the caller still holds the key.
func (q *queue) release(ctx context.Context, key string) error {
	resp, err := q.s.client.Delete(ctx, key)
	if err != nil {
		return err
	}
	q.done(key)
	if resp.Deleted == 0 {
		return ErrLost
	}
	return nil
}

// take is Lock and Acquire (wait), and TryLock and TryAcquire (!wait): enter, then,
// unless let in at once, wait, or leave again with ErrLocked. On failure it removes its
// key and returns ctx.Err() if ctx is done, else the error.
func (q *queue) take(ctx context.Context, wait bool) (key string, rev int64, err error) {
	if err := ctx.Err(); err != nil {
		return "", 0, err
	}
	if q.s.lost() {
		return "", 0, ErrLost
	}
	key, rev, held, err := q.enter(ctx)
	if err == nil && !held {
		if wait {
			err = q.wait(ctx, key, rev)
		} else {
			err = ErrLocked
		}
	}
	if err != nil {
		q.leave(ctx, key)
		return "", 0, firstErr(ctx, err)
	}
	return key, rev, nil
}

// unlock is Unlock and Release: a done ctx is reported first; then release, and unless
// the caller still holds the key (ctx.Err() or etcd's error is returned), forget, which
// drops the caller's record of it, and release's nil or ErrLost.
func (q *queue) unlock(ctx context.Context, key string, forget func()) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := q.release(ctx, key)
	if err != nil && err != ErrLost {
		return firstErr(ctx, err)
	}
	forget()
	return err
}

// unavailable reports whether err says that etcd cannot answer now (no connection, no
// leader, a timeout): gRPC's Unavailable, as the client passes it on or as etcd's own
// error types carry it. Other errors (permission denied, a bad request) are final.
func unavailable(err error) bool {
	var ee rpctypes.EtcdError
	if errors.As(err, &ee) {
		return ee.Code() == codes.Unavailable
	}
	return status.Code(err) == codes.Unavailable
}

// firstErr returns ctx.Err() if ctx is done, else err: a done ctx is reported before
// any other error, and unwrapped (the client turns a cancelled request into a gRPC
// status error).
func firstErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return err
}

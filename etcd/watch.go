package etcd

import (
	"context"
	"time"

	"github.com/gophergate/gate"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Versioned is one revision of a watched key.
type Versioned[T any] struct {
	Value    T     // decoded; the zero T when the key does not exist or did not decode
	Revision int64 // the key's mod revision (0: does not exist)
	Exists   bool
	Err      error // the decode error of this revision, if any
}

// same reports whether v and o are the same revision of the key.
func (v Versioned[T]) same(o Versioned[T]) bool {
	return v.Revision == o.Revision && v.Exists == o.Exists
}

// Watch follows one key as a gate watch channel: every process's config reload on one
// key, with gate's Borrow, Changed, WaitFor and Ready locally. It reads the key's current
// value, the receiver's first (already seen) value, then sends each later revision as a
// new version; a receiver that is slower than the writes skips to the newest, as a gate
// watch receiver does.
//
// A compaction of the revisions the watch still had to deliver, or a broken connection
// or restarted server, is resumed by reading the key again, so the newest value is never
// lost; revisions in between may be skipped. The receiver is closed (ErrClosed once its
// last version is seen) when ctx ends or the client is closed; Watch's goroutines end
// then too, or earlier once every receiver (the one returned and its clones) is closed.
//
// If ctx is done before the first read, Watch returns ctx.Err(); if the read fails, its
// error. decode is called from Watch's goroutine, one revision at a time.
func Watch[T any](ctx context.Context, client *clientv3.Client, key string, decode func([]byte) (T, error)) (*gate.WatchReceiver[Versioned[T]], error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	resp, err := client.Get(ctx, key)
	if err != nil {
		return nil, firstErr(ctx, err)
	}
	w := &watcher[T]{client: client, key: key, decode: decode}
	cur := w.version(resp.Kvs)
	tx, rx := gate.Watch(cur)
	wctx, cancel := context.WithCancel(ctx)
	go func() {
		// Every receiver closed: nobody is left to tell.
		tx.WaitClosed(wctx)
		cancel()
	}()
	go func() {
		defer tx.Close()
		defer cancel()
		w.run(wctx, tx, cur, resp.Header.Revision)
	}()
	return rx, nil
}

// A watcher feeds one gate watch channel from an etcd watch of one key.
type watcher[T any] struct {
	client *clientv3.Client
	key    string
	decode func([]byte) (T, error)
}

// run sends every revision of the key after rev, resuming from a fresh read whenever
// the etcd watch ends before ctx does. cur is the version last sent.
func (w *watcher[T]) run(ctx context.Context, tx *gate.WatchSender[Versioned[T]], cur Versioned[T], rev int64) {
	backoff := 10 * time.Millisecond
	for ctx.Err() == nil && w.client.Ctx().Err() == nil {
		wch := w.client.Watch(clientv3.WithRequireLeader(ctx), w.key, clientv3.WithRev(rev+1))
		for wr := range wch {
			if wr.Canceled || wr.Err() != nil {
				break // compacted, or no leader: read again below
			}
			for _, ev := range wr.Events {
				v := w.event(ev)
				rev = ev.Kv.ModRevision
				if !v.same(cur) {
					cur = v
					tx.Send(v)
				}
			}
			if wr.Header.Revision > rev {
				rev = wr.Header.Revision
			}
			backoff = 10 * time.Millisecond
		}
		// The watch ended before ctx: the revisions after rev may be compacted away,
		// so read the key as it is now and watch on from there.
		for ctx.Err() == nil && w.client.Ctx().Err() == nil {
			resp, err := w.client.Get(ctx, w.key)
			if err == nil {
				if v := w.version(resp.Kvs); !v.same(cur) {
					cur = v
					tx.Send(v)
				}
				rev = resp.Header.Revision
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second)
		}
	}
}

// version decodes the result of a Get of the key.
func (w *watcher[T]) version(kvs []*mvccpb.KeyValue) Versioned[T] {
	if len(kvs) == 0 {
		return Versioned[T]{}
	}
	return w.decoded(kvs[0])
}

// event decodes one watch event of the key.
func (w *watcher[T]) event(ev *clientv3.Event) Versioned[T] {
	if ev.Type == clientv3.EventTypeDelete {
		return Versioned[T]{}
	}
	return w.decoded(ev.Kv)
}

func (w *watcher[T]) decoded(kv *mvccpb.KeyValue) Versioned[T] {
	v := Versioned[T]{Revision: kv.ModRevision, Exists: true}
	val, err := w.decode(kv.Value)
	if err != nil {
		v.Err = err
	} else {
		v.Value = val
	}
	return v
}

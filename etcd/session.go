package etcd

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// A Session is one etcd lease, kept alive in the background. Every lock and permit taken
// through it lasts only as long as the lease: when the lease is lost, the keys attached
// to it are deleted by etcd and the locks they held are free for others.
//
// A Session is made by [NewSession] (the zero Session is not usable) and is safe for
// use by any number of goroutines. Closing it, or closing its
// client, ends the keep-alive.
type Session struct {
	client *clientv3.Client
	id     clientv3.LeaseID
	ttl    time.Duration // as granted: whole seconds

	names atomic.Uint64 // numbers the key names made through this session
	stop  context.CancelFunc
	done  chan struct{} // closed when the keep-alive goroutine ends

	closeOnce sync.Once
	closeErr  error
}

// NewSession grants a lease of ttl, rounded up to whole seconds and at least 1 s, and
// keeps it alive until [Session.Close] is called, the client is closed, or etcd cannot
// be reached for ttl (the lease is then considered expired). ctx bounds only the grant:
// the keep-alive goes on after it ends, and keeps ctx's values.
//
// A longer ttl rides out longer server restarts and network partitions; a shorter one
// frees the locks of a crashed process sooner. etcd grants no lease shorter than 1.5
// election timeouts (about 1.5 s with its defaults).
//
// If ctx is done before the lease is granted, NewSession returns ctx.Err(); any lease it
// granted meanwhile is revoked, or expires after ttl.
func NewSession(ctx context.Context, client *clientv3.Client, ttl time.Duration) (*Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	secs := int64((ttl + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	resp, err := client.Grant(ctx, secs)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		return nil, err
	}
	kctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	ka, err := client.KeepAlive(kctx, resp.ID)
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	if err != nil {
		stop()
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Duration(resp.TTL)*time.Second)
		client.Revoke(rctx, resp.ID)
		cancel()
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		return nil, err
	}
	s := &Session{
		client: client,
		id:     resp.ID,
		ttl:    time.Duration(resp.TTL) * time.Second,
		stop:   stop,
		done:   make(chan struct{}),
	}
	go s.keepAlive(ka)
	return s, nil
}

// keepAlive drains the keep-alive responses. The client closes ka when the lease expired
// or was revoked (a response with TTL 0, or no response for a whole TTL), when kctx is
// cancelled, and when the client is closed: each means the lease is lost to us.
func (s *Session) keepAlive(ka <-chan *clientv3.LeaseKeepAliveResponse) {
	for range ka {
	}
	s.stop()
	close(s.done)
}

// Done returns a channel that is closed once the lease is lost: expired, revoked, or
// the session closed. A lock held through the session may have been taken by another
// process from then on; its Unlock reports [ErrLost] if so.
func (s *Session) Done() <-chan struct{} { return s.done }

// Lease returns the session's lease ID, for attaching keys of one's own to it.
func (s *Session) Lease() clientv3.LeaseID { return s.id }

// Close ends the keep-alive and revokes the lease, which deletes every key held through
// the session: its locks and permits are free at once rather than after the TTL. Close
// waits at most the TTL for the revoke (after that the lease has expired anyway) and
// returns its error; a lease already gone is not an error. Later calls return the same.
func (s *Session) Close() error {
	s.closeOnce.Do(func() {
		s.stop()
		<-s.done
		ctx, cancel := context.WithTimeout(context.Background(), s.ttl)
		defer cancel()
		_, err := s.client.Revoke(ctx, s.id)
		if errors.Is(err, rpctypes.ErrLeaseNotFound) {
			err = nil
		}
		s.closeErr = err
	})
	return s.closeErr
}

// lost reports whether the lease is lost.
func (s *Session) lost() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// abandon gives the lease up without contacting etcd: the keep-alive stops, Done closes,
// and etcd deletes the session's keys once the TTL passes. It is the way out when a key
// must go and etcd cannot be told so: a key left in a queue would otherwise keep the
// lock from everyone for as long as the session lives.
func (s *Session) abandon() {
	s.stop()
	<-s.done
}

// cleanupContext returns a context for deleting a key after ctx ended: it keeps ctx's
// values and lasts one TTL, after which an abandoned lease has expired anyway.
func (s *Session) cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), s.ttl)
}

// Package embedded starts a one-member etcd server inside the calling process, for the
// tests, benchmarks and demo of gate/etcd: 127.0.0.1, ports the OS picks, a data
// directory the caller names. Nothing has to be installed.
package embedded

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// A Server is a running embedded etcd member. Stop and Start restart it on the same data
// directory and the same ports, as a crashed and restarted member would come back.
type Server struct {
	Dir      string // the data directory
	Endpoint string // the client URL, for clientv3.Config.Endpoints
	peer     url.URL
	client   url.URL
	e        *embed.Etcd
}

// New starts a server with its data in dir (which may hold an earlier run's data). The
// heartbeat is 50 ms and the election timeout 500 ms, so that the shortest lease TTL the
// server grants is 1 s (etcd's minimum is 1.5 election timeouts), and fsync is off: the
// data outlives Stop but not a crash of the machine, which is all a test needs.
func New(dir string) (*Server, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	s := &Server{
		Dir:    dir,
		client: url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", ports[0])},
		peer:   url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", ports[1])},
	}
	s.Endpoint = s.client.String()
	if err := s.Start(); err != nil {
		return nil, err
	}
	return s, nil
}

// Start starts the stopped server again and waits until it serves clients.
func (s *Server) Start() error {
	if s.e != nil {
		return errors.New("embedded: server already running")
	}
	cfg := embed.NewConfig()
	cfg.Name = "gate"
	cfg.Dir = s.Dir
	cfg.ListenClientUrls = []url.URL{s.client}
	cfg.AdvertiseClientUrls = []url.URL{s.client}
	cfg.ListenPeerUrls = []url.URL{s.peer}
	cfg.AdvertisePeerUrls = []url.URL{s.peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.TickMs = 50
	cfg.ElectionMs = 500
	cfg.UnsafeNoFsync = true
	cfg.LogLevel = "error"
	cfg.LogOutputs = []string{"stderr"}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return err
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return err
	case <-time.After(30 * time.Second):
		e.Close()
		return errors.New("embedded: etcd did not become ready in 30 s")
	}
	s.e = e
	return nil
}

// Stop stops the server; its data stays in Dir for Start.
func (s *Server) Stop() {
	if s.e != nil {
		s.e.Close()
		s.e = nil
	}
}

// freePorts asks the OS for n free TCP ports on 127.0.0.1. They are free when the call
// returns; another process could take one before the server binds it, which on a test
// machine does not happen in practice.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

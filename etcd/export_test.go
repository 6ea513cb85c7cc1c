package etcd

// Abandon stops the session's keep-alive without revoking the lease, as a process that
// hangs would: etcd expires the lease after its TTL.
func (s *Session) Abandon() { s.abandon() }

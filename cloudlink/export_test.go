package cloudlink

// SealCut exposes the sealing of a chunk as SplitSnapshot cut it (the
// test cloud's path) to the benchmarks.
func SealCut(s *Signer, hubID string, c *SnapshotChunk) (*Outgoing, error) {
	return s.sealCut(hubID, c, SealOptions{})
}

// CutChunks is the hub's set as the cloud cut it (CutSnapshot), stamped
// with a snapshot id.
func (h *CloudHub) CutChunks(id string) []SnapshotChunk {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cut == nil {
		return nil
	}
	return h.cut.chunks(id)
}

// ForgetCut drops the kept cut, so that the next CutSnapshot cuts again.
func (h *CloudHub) ForgetCut() {
	h.mu.Lock()
	h.cut = nil
	h.mu.Unlock()
}

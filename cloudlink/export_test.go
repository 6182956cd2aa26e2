package cloudlink

// SealCut exposes the sealing of a chunk as SplitSnapshot cut it (the
// test cloud's path) to the benchmarks.
func SealCut(s *Signer, hubID string, c *SnapshotChunk) (*Outgoing, error) {
	return s.sealCut(hubID, c, SealOptions{})
}

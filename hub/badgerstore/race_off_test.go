//go:build !race

package badgerstore

// raceEnabled: the race detector multiplies memory use and time.
const raceEnabled = false

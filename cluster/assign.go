package cluster

import (
	"crypto/sha256"
	"encoding/binary"
)

// Assign returns the member that should own location id: the one with the highest
// rendezvous score sha256(member, id). Every replica computes the same answer from the same
// member list, in any order; adding a member moves to it only the locations it now scores
// highest on (about 1/n of them), and removing one moves only its own. It returns "" when
// members is empty.
func Assign(id string, members []string) string {
	best, bestScore := "", uint64(0)
	for _, m := range members {
		s := score(m, id)
		if best == "" || s > bestScore || (s == bestScore && m < best) {
			best, bestScore = m, s
		}
	}
	return best
}

func score(member, id string) uint64 {
	h := sha256.New()
	h.Write([]byte(member))
	h.Write([]byte{0})
	h.Write([]byte(id))
	var sum [sha256.Size]byte
	return binary.BigEndian.Uint64(h.Sum(sum[:0]))
}

package ledger

import (
	"math/bits"

	"golang.org/x/mod/sumdb/tlog"
)

// node is a complete Merkle subtree: 2^level leaves starting at leaf
// index<<level.
type node struct {
	level int
	index int64
	hash  tlog.Hash
}

// compactRange holds the complete subtrees covering leaves [0, n): what is
// needed to extend the tree and compute its root in O(log n) memory.
type compactRange struct {
	nodes []node
	n     int64
}

// prefixNodes lists the complete subtrees covering leaves [0, n), largest
// first: one per set bit of n (RFC 6962 decomposition).
func prefixNodes(n int64) []node {
	var out []node
	var start int64
	for l := 63 - bits.LeadingZeros64(uint64(n)); l >= 0 && n > 0; l-- {
		if n&(1<<l) != 0 {
			out = append(out, node{level: l, index: start >> l})
			start += 1 << l
		}
	}
	return out
}

// push appends a leaf hash and merges completed subtrees, calling visit
// (if not nil) with the leaf and then each merged node, in the order tlog
// stores them.
func (c *compactRange) push(leaf tlog.Hash, visit func(node) error) error {
	nd := node{level: 0, index: c.n, hash: leaf}
	c.n++
	if visit != nil {
		if err := visit(nd); err != nil {
			return err
		}
	}
	return c.add(nd, visit)
}

// pushStored appends a leaf hash, merges completed subtrees, and appends
// to out the hashes tlog stores for this leaf, in its order: the leaf,
// then each merged node (what tlog.StoredHashesForRecordHash returns).
func (c *compactRange) pushStored(out []tlog.Hash, leaf tlog.Hash) []tlog.Hash {
	out = append(out, leaf)
	c.nodes = append(c.nodes, node{level: 0, index: c.n, hash: leaf})
	c.n++
	for len(c.nodes) >= 2 {
		a, b := &c.nodes[len(c.nodes)-2], &c.nodes[len(c.nodes)-1]
		if a.level != b.level || a.index&1 != 0 || b.index != a.index+1 {
			break
		}
		*a = node{level: a.level + 1, index: a.index >> 1, hash: nodeHash(a.hash, b.hash)}
		c.nodes = c.nodes[:len(c.nodes)-1]
		out = append(out, a.hash)
	}
	return out
}

// add appends an aligned subtree that starts where the last one ends and
// merges siblings.
func (c *compactRange) add(nd node, visit func(node) error) error {
	c.nodes = append(c.nodes, nd)
	for len(c.nodes) >= 2 {
		a, b := c.nodes[len(c.nodes)-2], c.nodes[len(c.nodes)-1]
		if a.level != b.level || a.index&1 != 0 || b.index != a.index+1 {
			break
		}
		m := node{level: a.level + 1, index: a.index >> 1, hash: nodeHash(a.hash, b.hash)}
		c.nodes = append(c.nodes[:len(c.nodes)-2], m)
		if visit != nil {
			if err := visit(m); err != nil {
				return err
			}
		}
	}
	return nil
}

// root returns the RFC 6962 Merkle tree hash of leaves [0, n).
func (c *compactRange) root() tlog.Hash {
	if len(c.nodes) == 0 {
		return tlog.Hash{} // tlog.TreeHash(0) convention
	}
	h := c.nodes[len(c.nodes)-1].hash
	for i := len(c.nodes) - 2; i >= 0; i-- {
		h = nodeHash(c.nodes[i].hash, h)
	}
	return h
}

// joinRoot returns the Merkle root of the tree whose leaves are covered by
// the subtrees of left followed by those of right.
func joinRoot(left, right []node) tlog.Hash {
	var c compactRange
	for _, nd := range left {
		c.add(nd, nil)
	}
	for _, nd := range right {
		c.add(nd, nil)
	}
	return c.root()
}

package state

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/sendgate/sendgate/quota"
)

// The history value: a contact's counted sends (see encode).

// historyEncoder encodes history values, reusing its scratch between calls.
type historyEncoder struct {
	agents []string          // dictionary, in first-use order
	idx    []uint32          // dictionary index of each send
	m      map[string]uint32 // used once the dictionary is large
	cats   []string          // categories, in first-use order
}

// dictLinearMax is the dictionary size up to which agents are looked up by a
// linear scan (no map, no allocation).
const dictLinearMax = 16

// encode appends the history value of sends (which should ascend by At) to
// dst:
//
//	version, expireAt varint, n uvarint, nAgents uvarint, agents (length-prefixed),
//	[nCats uvarint, categories (length-prefixed)],
//	n × { ΔAt varint, agent index uvarint, [category uvarint], attempt (length-prefixed) }
//
// The first ΔAt is expireAt-At[0] (small: about one window), the next ones
// At[i]-At[i-1]. The bracketed parts are there only when some send has a
// category (version historyCategories); a send's category is 0 for none,
// i+1 for categories[i].
func (e *historyEncoder) encode(dst []byte, sends []quota.Send, expireAt int64) []byte {
	e.agents = e.agents[:0]
	e.idx = e.idx[:0]
	e.cats = e.cats[:0]
	useMap := false
	for i := range sends {
		if c := sends[i].Category; c != "" && !slices.Contains(e.cats, c) {
			e.cats = append(e.cats, c)
		}
		a := sends[i].Agent
		j, ok := uint32(0), false
		if useMap {
			j, ok = e.m[a]
		} else {
			for k, s := range e.agents {
				if s == a {
					j, ok = uint32(k), true
					break
				}
			}
		}
		if !ok {
			j = uint32(len(e.agents))
			e.agents = append(e.agents, a)
			switch {
			case useMap:
				e.m[a] = j
			case len(e.agents) > dictLinearMax:
				useMap = true
				if e.m == nil {
					e.m = make(map[string]uint32, 4*dictLinearMax)
				}
				clear(e.m)
				for k, s := range e.agents {
					e.m[s] = uint32(k)
				}
			}
		}
		e.idx = append(e.idx, j)
	}

	cats := len(e.cats) > 0
	if cats {
		dst = binary.AppendVarint(append(dst, historyCategories), expireAt)
	} else {
		dst = appendHeader(dst, expireAt)
	}
	dst = binary.AppendUvarint(dst, uint64(len(sends)))
	dst = binary.AppendUvarint(dst, uint64(len(e.agents)))
	for _, a := range e.agents {
		dst = appendID(dst, a)
	}
	if cats {
		dst = binary.AppendUvarint(dst, uint64(len(e.cats)))
		for _, c := range e.cats {
			dst = appendID(dst, c)
		}
	}
	prev := expireAt
	for i := range sends {
		s := &sends[i]
		if i == 0 {
			dst = binary.AppendVarint(dst, expireAt-s.At)
		} else {
			dst = binary.AppendVarint(dst, s.At-prev)
		}
		prev = s.At
		dst = binary.AppendUvarint(dst, uint64(e.idx[i]))
		if cats {
			c := 0
			if s.Category != "" {
				c = slices.Index(e.cats, s.Category) + 1
			}
			dst = binary.AppendUvarint(dst, uint64(c))
		}
		dst = appendID(dst, s.Attempt)
	}
	return dst
}

// decodeHistory appends the sends of a history value to dst. The strings are
// substrings of one copy of val, so they never alias val's memory.
func decodeHistory(dst []quota.Send, val []byte) ([]quota.Send, error) {
	r := reader{b: val}
	version := r.byte()
	if r.err == nil && version != valueVersion && version != historyCategories {
		r.fail(fmt.Errorf("unknown value version %d", version))
	}
	expireAt := r.varint()
	n := r.uvarint()
	nAgents := r.uvarint()
	if r.err != nil {
		return dst, r.err
	}
	// Every send takes at least 3 bytes and every agent at least 1.
	if n > uint64(len(val)) || nAgents > uint64(len(val)) {
		return dst, fmt.Errorf("implausible counts: %d sends, %d agents in %d bytes", n, nAgents, len(val))
	}
	s := string(val)
	var small [8]string
	agents := small[:0]
	for range nAgents {
		i, j := r.span()
		agents = append(agents, s[i:j])
	}
	var cats []string
	if version == historyCategories {
		nCats := r.uvarint()
		if nCats > uint64(len(val)) {
			return dst, fmt.Errorf("implausible count: %d categories in %d bytes", nCats, len(val))
		}
		cats = make([]string, 1, nCats+1) // cats[0] is none
		for range nCats {
			i, j := r.span()
			cats = append(cats, s[i:j])
		}
	}
	dst = slices.Grow(dst, int(n))
	prev := expireAt
	for k := range n {
		d := r.varint()
		at := prev + d
		if k == 0 {
			at = expireAt - d
		}
		prev = at
		ai := r.uvarint()
		var ci uint64
		if cats != nil {
			ci = r.uvarint()
		}
		i, j := r.span()
		if r.err != nil {
			break
		}
		if ai >= uint64(len(agents)) {
			r.fail(fmt.Errorf("agent index %d out of %d", ai, len(agents)))
			break
		}
		var cat string
		if cats != nil {
			if ci >= uint64(len(cats)) {
				r.fail(fmt.Errorf("category index %d out of %d", ci, len(cats)-1))
				break
			}
			cat = cats[ci]
		}
		dst = append(dst, quota.Send{At: at, Agent: agents[ai], Attempt: s[i:j], Category: cat})
	}
	return dst, r.done()
}
